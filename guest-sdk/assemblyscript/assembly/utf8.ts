// UTF-8 <-> AssemblyScript strings (UTF-16), with Go's rules for bad input, so that
// JSON a guest writes is byte-for-byte what Go's encoding/json would write.

/**
 * The length of the valid UTF-8 sequence at `p` (before `end`), or 0 when the
 * byte there does not start one: exactly what Go's utf8.DecodeRune accepts (no
 * overlong forms, no surrogates, nothing above U+10FFFF).
 */
export function utf8SeqLen(p: usize, end: usize): i32 {
  const b0 = <u32>load<u8>(p);
  if (b0 < 0x80) return 1;
  let n = 0;
  let lo: u32 = 0x80;
  let hi: u32 = 0xBF;
  if (b0 >= 0xC2 && b0 <= 0xDF) n = 2;
  else if (b0 >= 0xE0 && b0 <= 0xEF) {
    n = 3;
    if (b0 == 0xE0) lo = 0xA0;
    else if (b0 == 0xED) hi = 0x9F;
  } else if (b0 >= 0xF0 && b0 <= 0xF4) {
    n = 4;
    if (b0 == 0xF0) lo = 0x90;
    else if (b0 == 0xF4) hi = 0x8F;
  } else return 0;
  if (p + <usize>n > end) return 0;
  const b1 = <u32>load<u8>(p + 1);
  if (b1 < lo || b1 > hi) return 0;
  for (let k = 2; k < n; k++) {
    const b = <u32>load<u8>(p + <usize>k);
    if (b < 0x80 || b > 0xBF) return 0;
  }
  return n;
}

/** UTF-8 bytes of a string; an unpaired surrogate becomes U+FFFD. */
export function utf8(s: string): Uint8Array {
  return Uint8Array.wrap(String.UTF8.encode(s, false, String.UTF8.ErrorMode.REPLACE));
}

/** A string from UTF-8 bytes; each byte that is not part of a valid sequence becomes U+FFFD. */
export function utf8Decode(b: Uint8Array): string {
  return utf8DecodeUnsafe(b.dataStart, <usize>b.byteLength);
}

/** `utf8Decode` of `len` bytes at `ptr`. */
export function utf8DecodeUnsafe(ptr: usize, len: usize): string {
  const out = new Uint16Array(<i32>len); // never more UTF-16 units than bytes
  const o0 = out.dataStart;
  let o = o0;
  let p = ptr;
  const end = ptr + len;
  while (p < end) {
    const n = utf8SeqLen(p, end);
    let cp: u32;
    if (n == 0) {
      cp = 0xFFFD;
      p += 1;
    } else {
      const b0 = <u32>load<u8>(p);
      if (n == 1) cp = b0;
      else if (n == 2) cp = ((b0 & 0x1F) << 6) | (<u32>load<u8>(p + 1) & 0x3F);
      else if (n == 3) cp = ((b0 & 0x0F) << 12) | ((<u32>load<u8>(p + 1) & 0x3F) << 6) | (<u32>load<u8>(p + 2) & 0x3F);
      else cp = ((b0 & 0x07) << 18) | ((<u32>load<u8>(p + 1) & 0x3F) << 12) |
        ((<u32>load<u8>(p + 2) & 0x3F) << 6) | (<u32>load<u8>(p + 3) & 0x3F);
      p += <usize>n;
    }
    if (cp >= 0x10000) {
      cp -= 0x10000;
      store<u16>(o, <u16>(0xD800 | (cp >> 10)));
      store<u16>(o + 2, <u16>(0xDC00 | (cp & 0x3FF)));
      o += 4;
    } else {
      store<u16>(o, <u16>cp);
      o += 2;
    }
  }
  return String.UTF16.decodeUnsafe(o0, o - o0);
}
