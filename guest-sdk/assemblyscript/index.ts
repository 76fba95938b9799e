// Package entry: AssemblyScript resolves `import ... from "@reprise-wasm/sdk-assemblyscript"`
// to this file.
export * from "./assembly/index";
export * from "./assembly/json";
export * from "./assembly/base64";
export * from "./assembly/utf8";
