// Reprise guest SDK for AssemblyScript: durable functions over ABI v1 (abi/ABI.md).
//
// A function is a module exporting an entry (`run` by default) that reads its
// input, makes host calls and sets its outcome:
//
//     import { inputJSON, invoke, resolve } from "reprise-sdk";
//     export function run(): void {
//       const p = invoke("square", "{\"n\":3}");
//       resolve(p.wait().value);
//     }
//
// Every promise call (invoke, after, promise, http), `any`, `now` and `random` is
// journaled by the host: after a crash the function runs again from the start and
// those calls are answered from the journal. Make the same calls in the same order.

import * as abi from "./abi";
import { JSONValue, JSONWriter, parseJSONBytes, jsonQuote } from "./json";
import { base64Encode, base64Decode } from "./base64";
import { utf8, utf8Decode } from "./utf8";

export { JSONValue, JSONKind, JSONWriter, parseJSON, parseJSONBytes, jsonQuote } from "./json";
export { base64Encode, base64Decode } from "./base64";
export { utf8, utf8Decode, utf8DecodeUnsafe, utf8SeqLen } from "./utf8";

/** The state of a promise, as returned by the host's `await`. */
export enum State {
  /** Not awaited yet (or still running). */
  Pending = 0,
  Resolved = 1,
  Rejected = 2,
  /** Rejected because it was canceled. */
  Canceled = 3,
  /** Rejected because its timeout passed. */
  TimedOut = 4,
}

/** The name used for a state in JSON documents: "resolved", "timedout", ... */
export function stateName(s: State): string {
  switch (s) {
    case State.Resolved: return "resolved";
    case State.Rejected: return "rejected";
    case State.Canceled: return "canceled";
    case State.TimedOut: return "timedout";
    default: return "pending";
  }
}

/** Error codes of ABI v1 (negative results of host calls). */
export enum ErrorCode {
  BadHandle = -1,
  BadMemory = -2,
  TooLarge = -3,
  BadArgument = -4,
  NotSettled = -5,
  Limit = -6,
  AlreadySet = -7,
  Disabled = -8,
}

/** The name of an ABI error code. */
export function errorName(code: i32): string {
  switch (code) {
    case ErrorCode.BadHandle: return "bad handle";
    case ErrorCode.BadMemory: return "bad memory";
    case ErrorCode.TooLarge: return "too large";
    case ErrorCode.BadArgument: return "bad argument";
    case ErrorCode.NotSettled: return "not settled";
    case ErrorCode.Limit: return "limit";
    case ErrorCode.AlreadySet: return "already set";
    case ErrorCode.Disabled: return "disabled";
    default: return "error " + code.toString();
  }
}

/** Log levels of `log`. */
export enum Level { Debug = 0, Info = 1, Warn = 2, Error = 3 }

// ---------------------------------------------------------------------------
// Traps

/**
 * Traps: the attempt fails and the host retries the execution from the start
 * (and finally rejects it with the trap message). The message goes to the log.
 */
export function trap(message: string): void {
  logBytes(Level.Error, utf8(message));
  unreachable();
}

/**
 * An `abort` that needs no `env.abort` import (which the host refuses). Compile
 * with `--use abort=<path to this file>/reprise_abort`; see README.md.
 */
export function reprise_abort(message: string | null, fileName: string | null, line: u32, column: u32): void {
  let m = "abort: " + (message !== null ? message : "(no message)");
  if (fileName !== null) m += " at " + fileName + ":" + line.toString() + ":" + column.toString();
  trap(m);
}

/** Traps on the error codes the SDK treats as bugs; returns `r` otherwise. */
function check(r: i32, what: string): i32 {
  if (r < 0 && r != ErrorCode.TooLarge && r != ErrorCode.Limit && r != ErrorCode.Disabled) {
    trap("reprise: " + what + ": " + errorName(r));
  }
  return r;
}

// ---------------------------------------------------------------------------
// Bytes

/** Bytes of a string (UTF-8), Uint8Array or ArrayBuffer argument. */
// @ts-ignore: decorator
@inline
function bytesOf<T>(v: T): Uint8Array {
  if (isString<T>()) return utf8(changetype<string>(v));
  if (idof<T>() == idof<Uint8Array>()) return changetype<Uint8Array>(v);
  if (idof<T>() == idof<ArrayBuffer>()) return Uint8Array.wrap(changetype<ArrayBuffer>(v));
  ERROR("expected a string, Uint8Array or ArrayBuffer");
  return new Uint8Array(0);
}

const READ_INPUT = 0;
const READ_VALUE = 1;
const READ_ID = 2;

/** Length, then copy: the ABI's way of returning bytes. */
function readBytes(which: i32, handle: i32): Uint8Array {
  const n = readCall(which, handle, 0, 0);
  if (n <= 0) return new Uint8Array(0);
  const buf = new Uint8Array(n);
  const m = readCall(which, handle, buf.dataStart, n);
  if (m != n) trap("reprise: length changed between reads");
  return buf;
}

function readCall(which: i32, handle: i32, buf: usize, cap: i32): i32 {
  if (which == READ_INPUT) return check(abi.input(buf, cap), "input");
  if (which == READ_VALUE) return check(abi.value(handle, buf, cap), "value");
  return check(abi.promise_id(handle, buf, cap), "promise_id");
}

// ---------------------------------------------------------------------------
// Input and outcome

/** The execution's input bytes. */
export function input(): Uint8Array { return readBytes(READ_INPUT, 0); }

/** The execution's input as a string. */
export function inputText(): string { return utf8Decode(input()); }

/** The execution's input parsed as JSON (null when it is not JSON). */
export function inputJSON(): JSONValue | null { return parseJSONBytes(input()); }

/**
 * Resolves the execution with `value` (a string, Uint8Array or ArrayBuffer: by
 * convention JSON). Returns false when the host refused it as too large; the
 * execution is then rejected with {"error": "result too large ..."} instead.
 * Setting the outcome twice traps.
 */
export function resolve<T>(value: T): bool {
  const b = bytesOf<T>(value);
  const r = check(abi.resolve(b.dataStart, b.byteLength), "resolve");
  if (r == 0) return true;
  reject("result too large (" + b.byteLength.toString() + " bytes): " + errorName(r));
  return false;
}

/** Rejects the execution with {"error": message}. */
export function reject(message: string): void {
  rejectWith(errorJSON(message));
}

/** Rejects the execution with `value` as its rejection value (by convention {"error": ...}). */
export function rejectWith<T>(value: T): void {
  const b = bytesOf<T>(value);
  const r = check(abi.reject(b.dataStart, b.byteLength), "reject");
  if (r != 0) {
    const e = utf8(errorJSON("rejection value too large (" + b.byteLength.toString() + " bytes)"));
    check(abi.reject(e.dataStart, e.byteLength), "reject");
  }
}

/** {"error": message} as JSON text. */
export function errorJSON(message: string): string {
  return "{\"error\":" + jsonQuote(message) + "}";
}

/** This execution's id. */
export function id(): string { return utf8Decode(readBytes(READ_ID, 0)); }

// ---------------------------------------------------------------------------
// Promises

/**
 * A durable promise: a child execution, a timer, an outbound request or a
 * promise someone outside settles. `wait()` blocks until it settles.
 */
export class Promise {
  private _state: State = State.Pending;
  private _value: Uint8Array | null = null;

  /**
   * The host handle (> 0). A negative handle is the ABI error code of a call
   * that could not start (e.g. arguments too large): such a promise is
   * already rejected, locally, without any host call.
   */
  constructor(public readonly handle: i32) {
    if (handle < 0) {
      this._state = State.Rejected;
      this._value = utf8(errorJSON("reprise: " + errorName(handle)));
    }
  }

  /** The promise's id (e.g. to hand to whoever must settle it). "" for a local failure. */
  get id(): string {
    if (this.handle < 0) return "";
    return utf8Decode(readBytes(READ_ID, this.handle));
  }

  /** State seen so far: Pending until `wait` (or `any`) returned for it. */
  get state(): State { return this._state; }

  /** Blocks until the promise settles. Waiting again returns at once. */
  wait(): Result {
    if (this._state == State.Pending) {
      this._state = <State>check(abi.await_(this.handle), "await");
    }
    return new Result(this);
  }

  /** The settled value (the resolved value or the rejection value); traps before `wait`. */
  get value(): Uint8Array {
    let v = this._value;
    if (v === null) {
      if (this._state == State.Pending) trap("reprise: value of a promise not waited for");
      v = readBytes(READ_VALUE, this.handle);
      this._value = v;
    }
    return v;
  }
}

/** A settled promise: its state and (read on first use) its value. */
export class Result {
  constructor(public readonly promise: Promise) {}

  get state(): State { return this.promise.state; }
  /** True when resolved. */
  get ok(): bool { return this.promise.state == State.Resolved; }
  /** The resolved value, or the rejection value ({"error": ...} by convention). */
  get value(): Uint8Array { return this.promise.value; }
  /** The value as a string. */
  text(): string { return utf8Decode(this.value); }
  /** The value parsed as JSON (null when it is not JSON). */
  json(): JSONValue | null { return parseJSONBytes(this.value); }

  /** For a rejection: its "error" message (or the raw value); "" when resolved. */
  get error(): string {
    if (this.ok) return "";
    const j = this.json();
    if (j !== null && j.isObject) {
      const e = j.get("error");
      if (e !== null && e.isString) return e.str;
    }
    return this.text();
  }

  /** For a resolved http promise: the response; null otherwise. */
  response(): HttpResponse | null {
    if (!this.ok) return null;
    return HttpResponse.parse(this.value);
  }
}

/**
 * Waits for the first of `promises` to settle and returns its index. Journaled.
 * Call `wait()` on the winner to learn its state (that returns at once).
 */
export function any(promises: Promise[]): i32 {
  const n = promises.length;
  if (n == 0) trap("reprise: any of no promises");
  const hs = new StaticArray<i32>(n);
  for (let i = 0; i < n; i++) {
    const p = promises[i];
    if (p.handle < 0) return i; // settled locally
    hs[i] = p.handle;
  }
  const i = check(abi.await_any(changetype<usize>(hs), n), "await_any");
  if (i < 0 || i >= n) trap("reprise: await_any: " + errorName(i));
  return i;
}

/** Waits for every promise, in order, and returns their results. */
export function all(promises: Promise[]): Result[] {
  const out = new Array<Result>(promises.length);
  for (let i = 0; i < promises.length; i++) out[i] = promises[i].wait();
  return out;
}

/** The first rejected result of `results`, or null when all resolved. */
export function firstRejected(results: Result[]): Result | null {
  for (let i = 0; i < results.length; i++) {
    if (!results[i].ok) return results[i];
  }
  return null;
}

/**
 * Runs the deployed function `name` as a child execution with `args` as its
 * input (a string, Uint8Array or ArrayBuffer: by convention JSON).
 */
export function invoke<T>(name: string, args: T): Promise {
  const n = utf8(name);
  const a = bytesOf<T>(args);
  return new Promise(check(abi.invoke(n.dataStart, n.byteLength, a.dataStart, a.byteLength), "invoke"));
}

const NS_PER_MS: i64 = 1_000_000;

function msToNs(ms: i64): i64 {
  if (ms > i64.MAX_VALUE / NS_PER_MS) return i64.MAX_VALUE;
  if (ms < i64.MIN_VALUE / NS_PER_MS) return i64.MIN_VALUE;
  return ms * NS_PER_MS;
}

/** A durable timer: resolves (with an empty value) after `ms` milliseconds. */
export function after(ms: i64): Promise { return afterNs(msToNs(ms)); }

/** A durable timer in nanoseconds (rounded up to whole milliseconds by the host). */
export function afterNs(ns: i64): Promise { return new Promise(check(abi.sleep(ns), "sleep")); }

/** Sleeps durably for `ms` milliseconds: `after(ms).wait()`. */
export function sleep(ms: i64): void { after(ms).wait(); }

/**
 * A new promise that someone outside settles by its `id`; it rejects as timed
 * out after `timeoutMs` milliseconds (0: never).
 */
export function promise(timeoutMs: i64 = 0): Promise {
  return new Promise(check(abi.promise(msToNs(timeoutMs)), "promise"));
}

// ---------------------------------------------------------------------------
// HTTP

/** An outbound HTTP request. Fields left at their defaults are omitted from the JSON. */
export class HttpRequest {
  headerNames: string[] = [];
  headerValues: string[] = [];
  body: Uint8Array | null = null;
  /** Whether the host may resend it when recovering from a crash mid-request. */
  idempotent: bool = false;
  /** 0: the host's default. */
  timeoutMs: i64 = 0;

  constructor(public method: string, public url: string) {}

  /** Sets a header (replacing one of the same name); chainable. */
  header(name: string, value: string): HttpRequest {
    for (let i = 0; i < this.headerNames.length; i++) {
      if (this.headerNames[i] == name) { this.headerValues[i] = value; return this; }
    }
    this.headerNames.push(name);
    this.headerValues.push(value);
    return this;
  }

  /** Sets the body (a string, Uint8Array or ArrayBuffer); chainable. */
  withBody<T>(body: T): HttpRequest { this.body = bytesOf<T>(body); return this; }

  /** Marks the request idempotent; chainable. */
  retrySafe(yes: bool = true): HttpRequest { this.idempotent = yes; return this; }

  /** The request JSON of ABI v1: method, url, headers, body, idempotent, timeout_ms. */
  toJSON(): string {
    const w = new JSONWriter();
    w.beginObject().key("method").string(this.method).key("url").string(this.url);
    if (this.headerNames.length > 0) {
      w.key("headers").beginObject();
      for (let i = 0; i < this.headerNames.length; i++) w.key(this.headerNames[i]).string(this.headerValues[i]);
      w.endObject();
    }
    const body = this.body;
    if (body !== null) w.key("body").string(base64Encode(body));
    if (this.idempotent) w.key("idempotent").bool(true);
    if (this.timeoutMs > 0) w.key("timeout_ms").int(this.timeoutMs);
    return w.endObject().toString();
  }
}

/** A response: any HTTP status resolves the promise. */
export class HttpResponse {
  status: i32 = 0;
  headers: Map<string, string> = new Map<string, string>();
  body: Uint8Array = new Uint8Array(0);

  /** The body as a string. */
  text(): string { return utf8Decode(this.body); }

  /** Parses the host's {"status", "headers", "body": base64} document; null when malformed. */
  static parse(value: Uint8Array): HttpResponse | null {
    const j = parseJSONBytes(value);
    if (j === null || !j.isObject) return null;
    const r = new HttpResponse();
    r.status = <i32>j.getInt("status");
    const h = j.get("headers");
    if (h !== null && h.isObject) {
      for (let i = 0; i < h.keys.length; i++) {
        const v = h.items[i];
        if (v.isString) r.headers.set(h.keys[i], v.str);
      }
    }
    const b = base64Decode(j.getString("body"));
    if (b === null) return null;
    r.body = b;
    return r;
  }
}

/** Sends `req`; the promise resolves with the response (use `Result.response()`). */
export function http(req: HttpRequest): Promise { return httpJSON(req.toJSON()); }

/** Sends a request given as its ABI JSON document (a string, Uint8Array or ArrayBuffer). */
export function httpJSON<T>(request: T): Promise {
  const b = bytesOf<T>(request);
  return new Promise(check(abi.http(b.dataStart, b.byteLength), "http"));
}

// ---------------------------------------------------------------------------
// Time, randomness, log

/** Real wall-clock time in Unix nanoseconds (journaled). */
export function now(): i64 { return abi.now(); }

/** Real wall-clock time in Unix milliseconds (journaled). */
export function nowMs(): i64 { return abi.now() / NS_PER_MS; }

/** `n` cryptographically random bytes (journaled; one host call per 4096 bytes). */
export function random(n: i32): Uint8Array {
  const b = new Uint8Array(n);
  for (let off = 0; off < n; off += 4096) {
    const len = min(4096, n - off);
    const r = check(abi.random(b.dataStart + <usize>off, len), "random");
    if (r != 0) trap("reprise: random: " + errorName(r));
  }
  return b;
}

/** A random u64 (journaled). */
export function randomU64(): u64 {
  const b = random(8);
  return load<u64>(b.dataStart);
}

/** Writes a line to the host log (not repeated when the host replays). */
export function log(message: string, level: Level = Level.Info): void {
  logBytes(level, utf8(message));
}

function logBytes(level: Level, b: Uint8Array): void {
  abi.log(<i32>level, b.dataStart, b.byteLength);
}
