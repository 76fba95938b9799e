// The example of README.md: charge and ship an order concurrently, wait up to
// two days for a person to confirm delivery, then notify a web hook.
import {
  inputJSON, invoke, all, firstRejected, promise, log, http, HttpRequest,
  now, resolve, reject, jsonQuote, JSONWriter,
} from "../index";

export function run(): void {
  const order = inputJSON();
  if (order === null || !order.isObject) {
    reject("the input must be a JSON object");
    return;
  }
  const id = order.getString("id");

  const charge = invoke("charge", order.toString()); // a child execution, running now
  const ship = invoke("ship", jsonQuote(id));         // and another, concurrently
  const failed = firstRejected(all([charge, ship]));
  if (failed !== null) {
    reject(failed.error); // rejects this execution with {"error": "..."}
    return;
  }

  // Wait up to two days for a person, durably.
  const review = promise(48 * 3600 * 1000);
  log("to confirm delivery, resolve " + review.id);
  const confirmed = review.wait();
  if (!confirmed.ok) {
    reject("not confirmed: " + confirmed.error);
    return;
  }

  const sent = http(new HttpRequest("POST", "https://example.com/done").withBody(id)).wait();
  const resp = sent.response();
  if (resp === null) {
    reject(sent.error); // no response came
    return;
  }

  resolve(new JSONWriter().beginObject()
    .key("order").string(id)
    .key("notified").int(resp.status)
    .key("at").int(now())
    .endObject().toString());
}
