package command

import (
	"bufio"
	"fmt"
	"os"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"

	"github.com/reprise-wasm/reprise/budget"
	"github.com/reprise-wasm/reprise/tenant"
)

// serverMemoryShare is the part of the machine's memory (its cgroup limit
// when it has one) that serve's default --memory-budget takes: the rest is
// for the Go runtime's own overhead, the store's caches and the system.
const serverMemoryShare = 0.7

// machineMemory is the memory this process may use: its cgroup's limit
// (v2, then v1) when there is one, else the machine's MemTotal.
func machineMemory() (int64, string, error) {
	for _, f := range []string{"/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"} {
		b, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		n, err := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
		// "max", or v1's huge number for none, mean no limit.
		if err == nil && n > 0 && n < 1<<50 {
			return n, "the cgroup limit (" + f + ")", nil
		}
	}
	f, err := os.Open("/proc/meminfo")
	if err != nil {
		return 0, "", fmt.Errorf("read the machine's memory: %w", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "MemTotal:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			if err != nil {
				return 0, "", fmt.Errorf("read MemTotal of /proc/meminfo: %w", err)
			}
			return kb << 10, "MemTotal of /proc/meminfo", nil
		}
	}
	return 0, "", fmt.Errorf("no MemTotal in /proc/meminfo")
}

// serverBudgets are the budgets every tenant's are inside of.
type serverBudgets struct {
	memory   *budget.Budget
	compiles *budget.Budget
}

// newServerBudgets makes the server's budgets: flag is --memory-budget ("" for
// the default, serverMemoryShare of machineMemory).
func (a *app) newServerBudgets(flag string) (serverBudgets, error) {
	var n int64
	if flag != "" {
		v, err := tenant.ParseSize(flag)
		if err != nil {
			return serverBudgets{}, usageErrorf("--memory-budget: %v", err)
		}
		n = v
	} else {
		total, from, err := machineMemory()
		if err != nil {
			return serverBudgets{}, fmt.Errorf("%w; give --memory-budget SIZE", err)
		}
		n = int64(float64(total) * serverMemoryShare)
		a.log.Info("memory budget", "budget", budget.Size(n), "of", budget.Size(total), "from", from)
	}
	if n < 64<<20 {
		return serverBudgets{}, usageErrorf("--memory-budget %s: at least 64MiB, for one instance and its compile", budget.Size(n))
	}
	if os.Getenv("GOMEMLIMIT") == "" {
		// The budget counts what is live; what the host let go (a closed
		// instance's 128 MiB) is garbage until the Go runtime collects
		// it, and by default it may let the heap reach twice the live
		// size first. With the budget as its soft limit, it collects
		// before the process passes it. A quarter more than the budget:
		// at the budget itself the live memory could sit at the limit
		// and the collector would run without end.
		debug.SetMemoryLimit(n + n/4)
	}
	return serverBudgets{
		memory: budget.New(tenant.LimitServerMemory, n, budget.Bytes, nil),
		// Compiling is CPU-bound and its memory peaks: one per core.
		compiles: budget.New("server_compiles", int64(runtime.NumCPU()), budget.Count, nil),
	}, nil
}

// tenantBudgets makes a tenant's budgets inside the server's; its memory
// budget is capped by the server's.
func (s serverBudgets) tenantBudgets(l tenant.Limits) (memory, compiles *budget.Budget) {
	return budget.New(tenant.LimitMemoryBudget, min(l.MemoryBudget, s.memory.Limit()), budget.Bytes, s.memory),
		budget.New(tenant.LimitCompiles, int64(l.Compiles), budget.Count, s.compiles)
}
