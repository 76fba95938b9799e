//! Builds example/order.zig into zig-out/lib/order.wasm: `zig build` (Zig 0.11).
const std = @import("std");

pub fn build(b: *std.Build) void {
    const reprise = b.createModule(.{ .source_file = .{ .path = "../reprise.zig" } });
    const lib = b.addSharedLibrary(.{
        .name = "order",
        .root_source_file = .{ .path = "order.zig" },
        // freestanding: the module imports only reprise_v1, no WASI
        .target = .{ .cpu_arch = .wasm32, .os_tag = .freestanding },
        .optimize = .ReleaseSmall,
    });
    lib.rdynamic = true; // export run (and memory)
    lib.strip = true;
    lib.addModule("reprise", reprise);
    b.installArtifact(lib);
}
