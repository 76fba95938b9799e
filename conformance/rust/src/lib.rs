//! The Rust conformance guest: every scenario of conformance/CONTRACT.md,
//! with the Rust SDK (guest-sdk/rust). Exports `run` (dispatches on the
//! input's "scenario") and `echo`.

use std::time::Duration;

use reprise::json::{self, Value};
use reprise::{Error, Level, Promise, Request};

reprise::entry!(run, dispatch);
reprise::entry!(echo, |input: &[u8]| Ok::<_, Error>(input.to_vec()));

type Outcome = Result<String, Error>;

fn dispatch(input: &[u8]) -> Outcome {
    let v = json::parse(input).ok_or("input is not JSON")?;
    let int = |k: &str| v.get(k).and_then(Value::as_i64).unwrap_or(0);
    let string = |k: &str| v.get(k).and_then(Value::as_str).unwrap_or("").to_string();
    let ms = |k: &str| Duration::from_millis(int(k).max(0) as u64);
    match v.get("scenario").and_then(Value::as_str).unwrap_or("") {
        "hello" => hello(&string("name")),
        "square" => Ok((int("n") * int("n")).to_string()),
        "steps" => {
            for _ in 0..int("n") {
                reprise::now_nanos();
            }
            Ok(format!("{{\"steps\":{}}}", int("n")))
        }
        "fanout" => fanout(int("n"), &string("self")),
        "race" => race(ms("a_ms"), ms("b_ms")),
        "sleep" => sleep(ms("ms")),
        "external" => external(ms("timeout_ms")),
        "http" => http(&string("url")),
        "fail" => Err(Error::msg(string("message"))),
        "trap" => panic!("trap scenario"),
        "crash" => crash(int("children"), int("steps"), ms("sleep_ms"), &string("record_url"), &string("self")),
        "record" => record(int("i"), &string("record_url")),
        s => Err(Error::msg(format!("unknown scenario: {}", s))),
    }
}

fn hello(name: &str) -> Outcome {
    let name = if name.is_empty() { "world" } else { name };
    Ok(format!("{{\"greeting\":{}}}", json::quote(&format!("Hello, {}!", name))))
}

fn fanout(n: i64, f: &str) -> Outcome {
    let children = (1..=n)
        .map(|i| reprise::invoke(f, format!("{{\"scenario\":\"square\",\"n\":{}}}", i).as_bytes()))
        .collect::<Result<Vec<Promise>, Error>>()?;
    let mut sum = 0;
    for v in reprise::all(&children)? {
        sum += json::parse(&v).and_then(|v| v.as_i64()).ok_or("square: not an integer")?;
    }
    Ok(format!("{{\"sum\":{}}}", sum))
}

fn race(a: Duration, b: Duration) -> Outcome {
    let timers = [reprise::after(a)?, reprise::after(b)?];
    Ok(format!("{{\"winner\":{}}}", reprise::any(&timers)))
}

fn sleep(d: Duration) -> Outcome {
    let t0 = reprise::now_nanos();
    reprise::sleep(d)?;
    let t1 = reprise::now_nanos();
    Ok(format!("{{\"slept_ms\":{}}}", (t1 - t0) / 1_000_000))
}

fn external(timeout: Duration) -> Outcome {
    let p = reprise::promise(Some(timeout))?;
    reprise::log(Level::Info, &format!("waiting for {}", p.id()));
    let (state, value) = match p.wait() {
        Ok(v) => ("resolved", v),
        Err(Error::Rejected { state, value }) => (state.as_str(), value),
        Err(e) => return Err(e),
    };
    Ok(format!("{{\"state\":\"{}\",\"value\":{}}}", state, json::quote_bytes(&value)))
}

fn http(url: &str) -> Outcome {
    // A rejection propagates as it is: the execution rejects with the same value.
    let r = reprise::http(&Request::get(url))?.response()?;
    Ok(format!("{{\"status\":{},\"body\":{}}}", r.status, json::quote_bytes(&r.body)))
}

fn crash(children: i64, steps: i64, pause: Duration, url: &str, f: &str) -> Outcome {
    for _ in 0..steps / 2 {
        reprise::now_nanos();
    }
    let waves = (children + 9) / 10;
    for k in 0..waves {
        if k == waves / 2 {
            reprise::sleep(pause)?;
        }
        let wave = (10 * k + 1..=children.min(10 * k + 10))
            .map(|i| {
                let args = format!("{{\"scenario\":\"record\",\"i\":{},\"record_url\":{}}}", i, json::quote(url));
                reprise::invoke(f, args.as_bytes())
            })
            .collect::<Result<Vec<Promise>, Error>>()?;
        for p in wave {
            if p.settle() != reprise::State::Resolved {
                p.wait()?;
            }
        }
        reprise::log(Level::Info, &format!("wave {} done", k + 1));
    }
    for _ in 0..steps / 2 {
        reprise::now_nanos();
    }
    let sum: i64 = (1..=children).map(|i| i * i).sum();
    Ok(format!("{{\"sum\":{},\"children\":{}}}", sum, children))
}

fn record(i: i64, url: &str) -> Outcome {
    let mut rnd = [0u8; 8];
    reprise::random(&mut rnd)?;
    let token: String = rnd.iter().map(|b| format!("{:02x}", b)).collect();
    let body = format!("{{\"id\":{},\"token\":\"{}\"}}", json::quote(&reprise::id()), token);
    let req = Request::post(url, body).header("content-type", "application/json").idempotent(true);
    let r = reprise::http(&req)?.response()?;
    if !r.is_success() {
        return Err(Error::msg(format!("record: http status {}", r.status)));
    }
    Ok((i * i).to_string())
}
