// Standard base64 (RFC 4648, with padding), as used for http bodies.

const ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/** Standard padded base64 of `data`. */
export function base64Encode(data: Uint8Array): string {
  const n = data.length;
  const out = new Uint8Array(((n + 2) / 3) * 4);
  const a = changetype<usize>(ALPHABET);
  let o = 0;
  let i = 0;
  for (; i + 2 < n; i += 3) {
    const v = (<u32>data[i] << 16) | (<u32>data[i + 1] << 8) | <u32>data[i + 2];
    out[o++] = <u8>load<u16>(a + ((v >> 18) & 63) * 2);
    out[o++] = <u8>load<u16>(a + ((v >> 12) & 63) * 2);
    out[o++] = <u8>load<u16>(a + ((v >> 6) & 63) * 2);
    out[o++] = <u8>load<u16>(a + (v & 63) * 2);
  }
  if (i < n) {
    const rest = n - i;
    let v = <u32>data[i] << 16;
    if (rest == 2) v |= <u32>data[i + 1] << 8;
    out[o++] = <u8>load<u16>(a + ((v >> 18) & 63) * 2);
    out[o++] = <u8>load<u16>(a + ((v >> 12) & 63) * 2);
    out[o++] = rest == 2 ? <u8>load<u16>(a + ((v >> 6) & 63) * 2) : 0x3D;
    out[o++] = 0x3D;
  }
  return String.UTF8.decodeUnsafe(out.dataStart, <usize>out.length);
}

function sextet(c: i32): i32 {
  if (c >= 0x41 && c <= 0x5A) return c - 0x41;
  if (c >= 0x61 && c <= 0x7A) return c - 0x61 + 26;
  if (c >= 0x30 && c <= 0x39) return c - 0x30 + 52;
  if (c == 0x2B || c == 0x2D) return 62; // + (and - of the URL alphabet)
  if (c == 0x2F || c == 0x5F) return 63; // / (and _)
  return -1;
}

/** Decodes base64 (padding optional); returns null on a bad character. */
export function base64Decode(s: string): Uint8Array | null {
  let len = s.length;
  while (len > 0 && s.charCodeAt(len - 1) == 0x3D) len--;
  if (len % 4 == 1) return null;
  const out = new Uint8Array((len * 3) / 4);
  let o = 0;
  let acc: u32 = 0;
  let bits = 0;
  for (let i = 0; i < len; i++) {
    const v = sextet(s.charCodeAt(i));
    if (v < 0) return null;
    acc = (acc << 6) | <u32>v;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out[o++] = <u8>(acc >> bits);
    }
  }
  return out;
}
