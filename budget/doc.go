// Package budget holds byte budgets (or budgets of anything counted, such
// as compiles at once) that nest: a tenant's budget has the server's as its
// parent, so a reservation must fit in both, and the tenants together can
// never hold more than the server allows, however their own limits add up.
//
// A [Budget] is reserved from with [Budget.TryReserve] (no waiting: an
// [*ExceededError] naming the limit, what was needed and what is held) or
// [Budget.Reserve] (waits for releases until its context ends), and given
// back with [Budget.Release]. Before a reservation fails or waits, the
// budget asks the holders that can give memory back (registered with
// [Budget.OnPressure]) to do so: first what is cheap to rebuild (pools of
// ready instances), then what costs a replay (parked instances).
//
// # Locks
//
// Budget.mu guards a budget's held bytes, peak, children and the channel
// that wakes its waiters. A reservation takes its own budget's lock, then
// its parent's (child before parent, never the other way), so nested
// budgets cannot deadlock. No lock is held while pressure callbacks run or
// while a reservation waits.
//
// There is no global state: the server makes its budget and passes it to
// each tenant's, which it passes to the tenant's host.
package budget
