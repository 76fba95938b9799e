// A small JSON reader and writer: enough for inputs, results, invoke arguments
// and the http request/response documents of the Reprise ABI. Both follow Go's
// encoding/json on odd input (bad UTF-8 and unpaired surrogates become U+FFFD;
// strings are written with the same escapes), so documents built from the same
// data are the same bytes in every guest language.

import { utf8, utf8DecodeUnsafe } from "./utf8";

/** The type of a JSON value. */
export enum JSONKind { Null = 0, Bool = 1, Number = 2, String = 3, Array = 4, Object = 5 }

/** A parsed JSON value. Objects keep their keys in document order. */
export class JSONValue {
  kind: JSONKind = JSONKind.Null;
  /** For Bool. */
  bool: bool = false;
  /** For Number: the literal as written (exact for big integers). For String: the text. */
  str: string = "";
  /** For Array: the items. For Object: the member values (same order as `keys`). */
  items: JSONValue[] = [];
  /** For Object: the member names. */
  keys: string[] = [];

  /** For Number: the value as a float (parsed on use). */
  get num(): f64 { return this.kind == JSONKind.Number ? parseFloat(this.str) : 0; }

  get isNull(): bool { return this.kind == JSONKind.Null; }
  get isString(): bool { return this.kind == JSONKind.String; }
  get isNumber(): bool { return this.kind == JSONKind.Number; }
  get isObject(): bool { return this.kind == JSONKind.Object; }
  get isArray(): bool { return this.kind == JSONKind.Array; }

  /** The member `key` of an object (the first one when repeated), or null. */
  get(key: string): JSONValue | null {
    if (this.kind != JSONKind.Object) return null;
    const keys = this.keys;
    for (let i = 0; i < keys.length; i++) {
      if (keys[i] == key) return this.items[i];
    }
    return null;
  }

  has(key: string): bool { return this.get(key) !== null; }

  /** A string member, or `fallback` when missing or not a string. */
  getString(key: string, fallback: string = ""): string {
    const v = this.get(key);
    if (v === null || v.kind != JSONKind.String) return fallback;
    return v.str;
  }

  /** An integer member, or `fallback` when missing or not a number. */
  getInt(key: string, fallback: i64 = 0): i64 {
    const v = this.get(key);
    if (v === null || v.kind != JSONKind.Number) return fallback;
    return v.asInt();
  }

  /** A number member as a float, or `fallback`. */
  getFloat(key: string, fallback: f64 = 0): f64 {
    const v = this.get(key);
    if (v === null || v.kind != JSONKind.Number) return fallback;
    return v.num;
  }

  /** A boolean member, or `fallback`. */
  getBool(key: string, fallback: bool = false): bool {
    const v = this.get(key);
    if (v === null || v.kind != JSONKind.Bool) return fallback;
    return v.bool;
  }

  /** True when this number is written as an integer (no fraction or exponent). */
  get isInteger(): bool {
    if (this.kind != JSONKind.Number) return false;
    const s = this.str;
    for (let i = 0; i < s.length; i++) {
      const c = s.charCodeAt(i);
      if (c == 0x2E || c == 0x65 || c == 0x45) return false; // . e E
    }
    return true;
  }

  /**
   * The number as an i64: exact for integers (also written with a fraction or
   * exponent, like 1e3), truncated toward zero otherwise; 0 when out of range.
   */
  asInt(): i64 {
    if (this.kind != JSONKind.Number) return 0;
    const s = this.str;
    let i = 0;
    let neg = false;
    if (s.charCodeAt(0) == 0x2D) { neg = true; i = 1; }
    // digits of the mantissa (without the point) and the power of ten to apply
    let digits = "";
    let exp: i32 = 0;
    let c = 0;
    for (; i < s.length; i++) {
      c = s.charCodeAt(i);
      if (c == 0x2E) continue;
      if (c == 0x65 || c == 0x45) break;
      digits += String.fromCharCode(c);
    }
    const point = s.indexOf(".");
    if (point >= 0) {
      const end = i;
      exp -= end - point - 1;
    }
    if (i < s.length) { // exponent
      i++;
      let eneg = false;
      if (s.charCodeAt(i) == 0x2B) i++;
      else if (s.charCodeAt(i) == 0x2D) { eneg = true; i++; }
      let e: i32 = 0;
      for (; i < s.length; i++) {
        e = e * 10 + (s.charCodeAt(i) - 0x30);
        if (e > 100000) return 0;
      }
      exp += eneg ? -e : e;
    }
    // drop digits for a negative power (truncation), append zeros for a positive one
    let len = digits.length + exp;
    if (len <= 0) return 0;
    if (len > digits.length) {
      if (len > 19) return 0;
      digits = digits.padEnd(len, "0");
    }
    let n: u64 = 0;
    for (let k = 0; k < len; k++) {
      const d = <u64>(digits.charCodeAt(k) - 0x30);
      if (n > (<u64>i64.MAX_VALUE - d) / 10) return 0;
      n = n * 10 + d;
    }
    return neg ? -(<i64>n) : <i64>n;
  }

  /** Compact JSON text of this value. */
  toString(): string {
    const w = new JSONWriter();
    w.value(this);
    return w.toString();
  }
}

/** Parses JSON text; returns null when it is not a single valid JSON document. */
export function parseJSON(text: string): JSONValue | null {
  const p = new Parser(text);
  p.ws();
  const v = p.value(0);
  if (v === null) return null;
  p.ws();
  if (p.pos != text.length) return null;
  return v;
}

/** Parses UTF-8 JSON bytes; returns null when invalid. */
export function parseJSONBytes(bytes: Uint8Array): JSONValue | null {
  return parseJSON(utf8DecodeUnsafe(bytes.dataStart, <usize>bytes.byteLength));
}

const MAX_DEPTH = 256;

class Parser {
  pos: i32 = 0;
  constructor(public s: string) {}

  ws(): void {
    const s = this.s;
    while (this.pos < s.length) {
      const c = s.charCodeAt(this.pos);
      if (c == 0x20 || c == 0x09 || c == 0x0A || c == 0x0D) this.pos++;
      else break;
    }
  }

  lit(word: string): bool {
    if (this.s.substr(this.pos, word.length) == word) {
      this.pos += word.length;
      return true;
    }
    return false;
  }

  value(depth: i32): JSONValue | null {
    if (depth > MAX_DEPTH || this.pos >= this.s.length) return null;
    const c = this.s.charCodeAt(this.pos);
    const v = new JSONValue();
    if (c == 0x7B) { // {
      if (!this.object(v, depth)) return null;
    } else if (c == 0x5B) { // [
      if (!this.array(v, depth)) return null;
    } else if (c == 0x22) { // "
      const s = this.string();
      if (s === null) return null;
      v.kind = JSONKind.String;
      v.str = s;
    } else if (c == 0x74) {
      if (!this.lit("true")) return null;
      v.kind = JSONKind.Bool;
      v.bool = true;
    } else if (c == 0x66) {
      if (!this.lit("false")) return null;
      v.kind = JSONKind.Bool;
    } else if (c == 0x6E) {
      if (!this.lit("null")) return null;
    } else {
      if (!this.number(v)) return null;
    }
    return v;
  }

  object(v: JSONValue, depth: i32): bool {
    v.kind = JSONKind.Object;
    this.pos++; // {
    this.ws();
    if (this.pos < this.s.length && this.s.charCodeAt(this.pos) == 0x7D) { this.pos++; return true; }
    while (true) {
      this.ws();
      if (this.pos >= this.s.length || this.s.charCodeAt(this.pos) != 0x22) return false;
      const k = this.string();
      if (k === null) return false;
      this.ws();
      if (this.pos >= this.s.length || this.s.charCodeAt(this.pos) != 0x3A) return false;
      this.pos++;
      this.ws();
      const item = this.value(depth + 1);
      if (item === null) return false;
      v.keys.push(k);
      v.items.push(item);
      this.ws();
      if (this.pos >= this.s.length) return false;
      const c = this.s.charCodeAt(this.pos++);
      if (c == 0x7D) return true;
      if (c != 0x2C) return false;
    }
  }

  array(v: JSONValue, depth: i32): bool {
    v.kind = JSONKind.Array;
    this.pos++; // [
    this.ws();
    if (this.pos < this.s.length && this.s.charCodeAt(this.pos) == 0x5D) { this.pos++; return true; }
    while (true) {
      this.ws();
      const item = this.value(depth + 1);
      if (item === null) return false;
      v.items.push(item);
      this.ws();
      if (this.pos >= this.s.length) return false;
      const c = this.s.charCodeAt(this.pos++);
      if (c == 0x5D) return true;
      if (c != 0x2C) return false;
    }
  }

  number(v: JSONValue): bool {
    const s = this.s;
    const start = this.pos;
    let i = this.pos;
    if (i < s.length && s.charCodeAt(i) == 0x2D) i++;
    const intStart = i;
    while (i < s.length && isDigit(s.charCodeAt(i))) i++;
    if (i == intStart) return false;
    if (i - intStart > 1 && s.charCodeAt(intStart) == 0x30) return false; // leading zero
    if (i < s.length && s.charCodeAt(i) == 0x2E) {
      i++;
      const f = i;
      while (i < s.length && isDigit(s.charCodeAt(i))) i++;
      if (i == f) return false;
    }
    if (i < s.length && (s.charCodeAt(i) == 0x65 || s.charCodeAt(i) == 0x45)) {
      i++;
      if (i < s.length && (s.charCodeAt(i) == 0x2B || s.charCodeAt(i) == 0x2D)) i++;
      const e = i;
      while (i < s.length && isDigit(s.charCodeAt(i))) i++;
      if (i == e) return false;
    }
    this.pos = i;
    v.kind = JSONKind.Number;
    v.str = s.substring(start, i);
    return true;
  }

  string(): string | null {
    const s = this.s;
    this.pos++; // opening quote
    let out = "";
    let run = this.pos;
    while (this.pos < s.length) {
      const c = s.charCodeAt(this.pos);
      if (c == 0x22) {
        out += s.substring(run, this.pos);
        this.pos++;
        return out;
      }
      if (c < 0x20) return null;
      if (c != 0x5C) { this.pos++; continue; }
      out += s.substring(run, this.pos);
      this.pos++;
      if (this.pos >= s.length) return null;
      const e = s.charCodeAt(this.pos++);
      if (e == 0x22) out += "\"";
      else if (e == 0x5C) out += "\\";
      else if (e == 0x2F) out += "/";
      else if (e == 0x62) out += "\b";
      else if (e == 0x66) out += "\f";
      else if (e == 0x6E) out += "\n";
      else if (e == 0x72) out += "\r";
      else if (e == 0x74) out += "\t";
      else if (e == 0x75) {
        if (this.pos + 4 > s.length) return null;
        let u = 0;
        for (let k = 0; k < 4; k++) {
          const h = hexValue(s.charCodeAt(this.pos++));
          if (h < 0) return null;
          u = (u << 4) | h;
        }
        if (u >= 0xD800 && u < 0xDC00) {
          // a high surrogate: pairs with a following \uDC00-\uDFFF escape
          let lo = -1;
          if (this.pos + 6 <= s.length && s.charCodeAt(this.pos) == 0x5C && s.charCodeAt(this.pos + 1) == 0x75) {
            lo = 0;
            for (let k = 2; k < 6; k++) {
              const h = hexValue(s.charCodeAt(this.pos + k));
              if (h < 0) { lo = -1; break; }
              lo = (lo << 4) | h;
            }
          }
          if (lo >= 0xDC00 && lo < 0xE000) {
            out += String.fromCharCode(u) + String.fromCharCode(lo);
            this.pos += 6;
          } else out += "\uFFFD";
        } else if (u >= 0xDC00 && u < 0xE000) {
          out += "\uFFFD"; // unpaired low surrogate
        } else out += String.fromCharCode(u);
      } else return null;
      run = this.pos;
    }
    return null;
  }
}

function isDigit(c: i32): bool { return c >= 0x30 && c <= 0x39; }

function hexValue(c: i32): i32 {
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  if (c >= 0x61 && c <= 0x66) return c - 0x61 + 10;
  if (c >= 0x41 && c <= 0x46) return c - 0x41 + 10;
  return -1;
}

const HEX = "0123456789abcdef";

/**
 * `s` as a JSON string literal, quotes included, escaped as Go's encoding/json
 * does: `"`, `\\` and control characters, `<`, `>`, `&`, U+2028 and U+2029;
 * an unpaired surrogate is written as `\ufffd`.
 */
export function jsonQuote(s: string): string {
  let out = "\"";
  let run = 0;
  const n = s.length;
  for (let i = 0; i < n; i++) {
    const c = s.charCodeAt(i);
    let esc = "";
    if (c == 0x22) esc = "\\\"";
    else if (c == 0x5C) esc = "\\\\";
    else if (c == 0x0A) esc = "\\n";
    else if (c == 0x0D) esc = "\\r";
    else if (c == 0x09) esc = "\\t";
    else if (c == 0x08) esc = "\\b";
    else if (c == 0x0C) esc = "\\f";
    else if (c < 0x20 || c == 0x3C || c == 0x3E || c == 0x26 || c == 0x2028 || c == 0x2029) esc = "\\u" + hex4(c);
    else if (c >= 0xD800 && c < 0xDC00 && i + 1 < n && s.charCodeAt(i + 1) >= 0xDC00 && s.charCodeAt(i + 1) < 0xE000) {
      i++; // a valid pair, written as is
      continue;
    } else if (c >= 0xD800 && c < 0xE000) esc = "\\ufffd";
    else continue;
    out += s.substring(run, i) + esc;
    run = i + 1;
  }
  return out + s.substring(run) + "\"";
}

function hex4(c: i32): string {
  return HEX.charAt((c >> 12) & 15) + HEX.charAt((c >> 8) & 15) + HEX.charAt((c >> 4) & 15) + HEX.charAt(c & 15);
}

/**
 * Writes compact JSON (no spaces), members in the order written:
 *
 *     const w = new JSONWriter();
 *     w.beginObject().key("sum").int(55).key("ok").bool(true).endObject();
 *     w.toString(); // {"sum":55,"ok":true}
 */
export class JSONWriter {
  private parts: string[] = [];
  private comma: bool = false;

  private sep(): void {
    if (this.comma) this.parts.push(",");
  }

  beginObject(): JSONWriter { this.sep(); this.parts.push("{"); this.comma = false; return this; }
  endObject(): JSONWriter { this.parts.push("}"); this.comma = true; return this; }
  beginArray(): JSONWriter { this.sep(); this.parts.push("["); this.comma = false; return this; }
  endArray(): JSONWriter { this.parts.push("]"); this.comma = true; return this; }

  /** A member name; the next call writes its value. */
  key(name: string): JSONWriter {
    this.sep();
    this.parts.push(jsonQuote(name));
    this.parts.push(":");
    this.comma = false;
    return this;
  }

  string(s: string): JSONWriter { this.sep(); this.parts.push(jsonQuote(s)); this.comma = true; return this; }
  int(n: i64): JSONWriter { this.sep(); this.parts.push(n.toString()); this.comma = true; return this; }
  float(n: f64): JSONWriter {
    this.sep();
    this.parts.push(isFinite(n) ? n.toString() : "null");
    this.comma = true;
    return this;
  }
  bool(b: bool): JSONWriter { this.sep(); this.parts.push(b ? "true" : "false"); this.comma = true; return this; }
  null(): JSONWriter { this.sep(); this.parts.push("null"); this.comma = true; return this; }
  /** Already-encoded JSON text, written as is. */
  raw(json: string): JSONWriter { this.sep(); this.parts.push(json); this.comma = true; return this; }

  /** A parsed value, re-encoded compactly. */
  value(v: JSONValue): JSONWriter {
    switch (v.kind) {
      case JSONKind.Null: return this.null();
      case JSONKind.Bool: return this.bool(v.bool);
      case JSONKind.Number: return this.raw(v.str);
      case JSONKind.String: return this.string(v.str);
      case JSONKind.Array: {
        this.beginArray();
        for (let i = 0; i < v.items.length; i++) this.value(v.items[i]);
        return this.endArray();
      }
      default: {
        this.beginObject();
        for (let i = 0; i < v.keys.length; i++) this.key(v.keys[i]).value(v.items[i]);
        return this.endObject();
      }
    }
  }

  toString(): string { return this.parts.join(""); }

  /** The JSON text as UTF-8 bytes. */
  toBytes(): Uint8Array { return utf8(this.toString()); }
}
