//! Outbound HTTP (ABI v1 `http`): the request and response JSON.

use std::time::Duration;

use crate::{base64, check, json, sys, Error, Promise};

/// An outbound HTTP request. The host sends it only if the function was
/// granted outbound HTTP to the URL's host; otherwise its promise rejects.
///
/// ```
/// let req = reprise::Request::post("http://example.com/hook", b"{}".to_vec())
///     .header("content-type", "application/json")
///     .idempotent(true);
/// assert_eq!(req.to_json(), r#"{"method":"POST","url":"http://example.com/hook","headers":{"content-type":"application/json"},"body":"e30=","idempotent":true}"#);
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Request {
    /// The method; empty means `GET`.
    pub method: String,
    /// The absolute URL.
    pub url: String,
    /// Header names and values, written in this order.
    pub headers: Vec<(String, String)>,
    /// The body (sent base64-encoded in the request JSON).
    pub body: Vec<u8>,
    /// Whether the host may send the request again if it crashed before it
    /// recorded the response. If not, such a request rejects with an error
    /// starting with `interrupted`.
    pub idempotent: bool,
    /// How long the host waits for the response; `None`: the host's default.
    pub timeout: Option<Duration>,
}

impl Request {
    /// A request with this method and URL.
    pub fn new(method: &str, url: &str) -> Request {
        Request { method: method.to_string(), url: url.to_string(), ..Request::default() }
    }

    /// A `GET` request.
    pub fn get(url: &str) -> Request {
        Request::new("GET", url)
    }

    /// A `POST` request with a body.
    pub fn post(url: &str, body: impl Into<Vec<u8>>) -> Request {
        Request { body: body.into(), ..Request::new("POST", url) }
    }

    /// Adds a header.
    pub fn header(mut self, name: &str, value: &str) -> Request {
        self.headers.push((name.to_string(), value.to_string()));
        self
    }

    /// Sets the body.
    pub fn body(mut self, body: impl Into<Vec<u8>>) -> Request {
        self.body = body.into();
        self
    }

    /// Sets whether the request may be sent again after a host crash.
    pub fn idempotent(mut self, yes: bool) -> Request {
        self.idempotent = yes;
        self
    }

    /// Sets the response timeout (rounded up to whole milliseconds).
    pub fn timeout(mut self, d: Duration) -> Request {
        self.timeout = Some(d);
        self
    }

    /// The request as the compact JSON object the host takes: fields in the
    /// order `method`, `url`, `headers`, `body`, `idempotent`, `timeout_ms`,
    /// leaving out empty headers, an empty body, `idempotent: false` and no
    /// timeout.
    pub fn to_json(&self) -> String {
        let mut s = String::from("{\"method\":");
        json::write_quoted(&mut s, if self.method.is_empty() { b"GET" } else { self.method.as_bytes() });
        s.push_str(",\"url\":");
        json::write_quoted(&mut s, self.url.as_bytes());
        if !self.headers.is_empty() {
            s.push_str(",\"headers\":{");
            for (i, (k, v)) in self.headers.iter().enumerate() {
                if i > 0 {
                    s.push(',');
                }
                json::write_quoted(&mut s, k.as_bytes());
                s.push(':');
                json::write_quoted(&mut s, v.as_bytes());
            }
            s.push('}');
        }
        if !self.body.is_empty() {
            s.push_str(",\"body\":\"");
            s.push_str(&base64::encode(&self.body));
            s.push('"');
        }
        if self.idempotent {
            s.push_str(",\"idempotent\":true");
        }
        if let Some(t) = self.timeout {
            let ms = (t.as_nanos() + 999_999) / 1_000_000;
            s.push_str(",\"timeout_ms\":");
            s.push_str(&ms.to_string());
        }
        s.push('}');
        s
    }
}

/// The response to a [`Request`]: any HTTP status is a response.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Response {
    /// The HTTP status code.
    pub status: u16,
    /// Header names and values.
    pub headers: Vec<(String, String)>,
    /// The body.
    pub body: Vec<u8>,
}

impl Response {
    /// Parses the host's response JSON, `{"status":200,"headers":{..},"body":"<base64>"}`.
    pub fn parse(value: &[u8]) -> Option<Response> {
        let v = json::parse(value)?;
        let status = v.get("status")?.as_i64()?;
        let mut r = Response { status: u16::try_from(status).ok()?, ..Response::default() };
        if let Some(json::Value::Object(h)) = v.get("headers") {
            for (k, v) in h {
                r.headers.push((k.clone(), v.as_str().unwrap_or_default().to_string()));
            }
        }
        if let Some(b) = v.get("body").and_then(json::Value::as_str) {
            r.body = base64::decode(b.as_bytes())?;
        }
        Some(r)
    }

    /// Whether the status is 2xx.
    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }

    /// The first header with this name (ASCII case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    /// The body as text (invalid UTF-8 replaced).
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// Sends an HTTP request; the promise resolves with the response (read it
/// with [`Promise::response`]) and rejects when none came.
pub fn http(req: &Request) -> Result<Promise, Error> {
    let b = req.to_json();
    let h = check("http", unsafe { sys::http(b.as_ptr(), b.len() as i32) })?;
    Ok(Promise::from_handle(h))
}

impl Promise {
    /// Waits for an [`http`] promise and parses its response.
    pub fn response(&self) -> Result<Response, Error> {
        let v = self.wait()?;
        Response::parse(&v).ok_or_else(|| Error::Message("reprise: http: malformed response from the host".into()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_json() {
        assert_eq!(Request::get("http://h/x?a=1&b=2").to_json(), r#"{"method":"GET","url":"http://h/x?a=1\u0026b=2"}"#);
        assert_eq!(
            Request::default().timeout(Duration::from_micros(1500)).to_json(),
            r#"{"method":"GET","url":"","timeout_ms":2}"#
        );
        let r = Response::parse(br#"{"status":404,"headers":{"Content-Type":"text/plain"},"body":"aGk="}"#).unwrap();
        assert_eq!((r.status, r.header("content-type"), r.text().as_str()), (404, Some("text/plain"), "hi"));
    }
}
