// The AssemblyScript conformance guest: every scenario of conformance/CONTRACT.md,
// making exactly the host calls listed there, in that order.

import {
  Promise, Result, State, Level, HttpRequest, JSONValue, JSONWriter,
  input, inputJSON, resolve, reject, rejectWith, invoke, after, promise, http, httpJSON,
  any, now, random, log, id, stateName, utf8, utf8Decode, trap,
} from "../../guest-sdk/assemblyscript/assembly/index";

/** Resolves with the input bytes unchanged. */
export function echo(): void {
  resolve(input());
}

export function run(): void {
  const inp = inputJSON();
  if (inp === null || !inp.isObject) {
    reject("input is not a JSON object");
    return;
  }
  const scenario = inp.getString("scenario");
  if (scenario == "hello") hello(inp);
  else if (scenario == "square") square(inp);
  else if (scenario == "fanout") fanout(inp);
  else if (scenario == "race") race(inp);
  else if (scenario == "sleep") sleepScenario(inp);
  else if (scenario == "external") external(inp);
  else if (scenario == "http") httpScenario(inp);
  else if (scenario == "steps") steps(inp);
  else if (scenario == "fail") reject(inp.getString("message"));
  else if (scenario == "trap") trap("trap scenario");
  else if (scenario == "crash") crash(inp);
  else if (scenario == "record") record(inp);
  else reject("unknown scenario: " + scenario);
}

function hello(inp: JSONValue): void {
  let name = inp.getString("name");
  if (name.length == 0) name = "world";
  resolve(new JSONWriter().beginObject().key("greeting").string("Hello, " + name + "!").endObject().toString());
}

function square(inp: JSONValue): void {
  const k = inp.getInt("n");
  resolve((k * k).toString());
}

function squareArgs(i: i64): string {
  return "{\"scenario\":\"square\",\"n\":" + i.toString() + "}";
}

function steps(inp: JSONValue): void {
  const n = inp.getInt("n");
  for (let i: i64 = 0; i < n; i++) now();
  resolve(new JSONWriter().beginObject().key("steps").int(n).endObject().toString());
}

function fanout(inp: JSONValue): void {
  const n = inp.getInt("n");
  const self = inp.getString("self");
  const ps = new Array<Promise>();
  for (let i: i64 = 1; i <= n; i++) ps.push(invoke(self, squareArgs(i)));
  const rs = new Array<Result>();
  for (let i = 0; i < ps.length; i++) rs.push(ps[i].wait());
  let sum: i64 = 0;
  for (let i = 0; i < rs.length; i++) {
    const r = rs[i];
    if (!r.ok) { rejectWith(r.value); return; }
    const v = r.json();
    if (v === null || !v.isNumber) { reject("child " + (i + 1).toString() + " returned " + r.text()); return; }
    sum += v.asInt();
  }
  resolve(new JSONWriter().beginObject().key("sum").int(sum).endObject().toString());
}

function race(inp: JSONValue): void {
  const a = after(inp.getInt("a_ms"));
  const b = after(inp.getInt("b_ms"));
  const w = any([a, b]);
  resolve(new JSONWriter().beginObject().key("winner").int(w).endObject().toString());
}

function sleepScenario(inp: JSONValue): void {
  const t0 = now();
  after(inp.getInt("ms")).wait();
  const t1 = now();
  resolve(new JSONWriter().beginObject().key("slept_ms").int((t1 - t0) / 1_000_000).endObject().toString());
}

function external(inp: JSONValue): void {
  const p = promise(inp.getInt("timeout_ms"));
  log("waiting for " + p.id, Level.Info);
  const r = p.wait();
  resolve(new JSONWriter().beginObject()
    .key("state").string(stateName(r.state))
    .key("value").string(r.text())
    .endObject().toString());
}

function httpScenario(inp: JSONValue): void {
  const p = http(new HttpRequest("GET", inp.getString("url")));
  const r = p.wait();
  if (!r.ok) { rejectWith(r.value); return; }
  const resp = r.response();
  if (resp === null) { reject("malformed http response: " + r.text()); return; }
  resolve(new JSONWriter().beginObject()
    .key("status").int(resp.status)
    .key("body").string(resp.text())
    .endObject().toString());
}

function crash(inp: JSONValue): void {
  const children = inp.getInt("children");
  const steps = inp.getInt("steps");
  const sleepMs = inp.getInt("sleep_ms");
  const url = inp.getString("record_url");
  const self = inp.getString("self");
  for (let s: i64 = 0; s < steps / 2; s++) now();
  const waves = (children + 9) / 10;
  let sum: i64 = 0;
  for (let k: i64 = 0; k < waves; k++) {
    if (k == waves / 2) after(sleepMs).wait();
    const ps = new Array<Promise>();
    const last = min(10 * k + 10, children);
    for (let i = 10 * k + 1; i <= last; i++) {
      const args = new JSONWriter().beginObject()
        .key("scenario").string("record")
        .key("i").int(i)
        .key("record_url").string(url)
        .endObject().toString();
      ps.push(invoke(self, args));
    }
    const rs = new Array<Result>();
    for (let j = 0; j < ps.length; j++) rs.push(ps[j].wait());
    for (let j = 0; j < rs.length; j++) {
      const r = rs[j];
      if (!r.ok) { rejectWith(r.value); return; }
      const v = r.json();
      if (v === null || !v.isNumber) { reject("child returned " + r.text()); return; }
      sum += v.asInt();
    }
    log("wave " + (k + 1).toString() + " done", Level.Info);
  }
  for (let s: i64 = 0; s < steps / 2; s++) now();
  resolve(new JSONWriter().beginObject().key("sum").int(sum).key("children").int(children).endObject().toString());
}

const HEX = "0123456789abcdef";

function record(inp: JSONValue): void {
  const i = inp.getInt("i");
  const url = inp.getString("record_url");
  const rnd = random(8);
  let token = "";
  for (let k = 0; k < rnd.length; k++) token += HEX.charAt(rnd[k] >> 4) + HEX.charAt(rnd[k] & 15);
  const body = new JSONWriter().beginObject().key("id").string(id()).key("token").string(token).endObject().toString();
  const req = new HttpRequest("POST", url)
    .header("content-type", "application/json")
    .withBody(body)
    .retrySafe();
  const r = http(req).wait();
  if (!r.ok) { rejectWith(r.value); return; }
  const resp = r.response();
  if (resp === null) { reject("malformed http response: " + r.text()); return; }
  if (resp.status < 200 || resp.status > 299) {
    reject("record: http status " + resp.status.toString());
    return;
  }
  resolve((i * i).toString());
}
