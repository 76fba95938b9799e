package command

import (
	"errors"
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/reprise-wasm/reprise/tenant"
)

// tenantCommand manages the tenants a server serves. The limit flags belong
// to `tenant` itself so they may come anywhere on the line (the argument
// reordering knows one level of commands).
func (a *app) tenantCommand() *cli.Command {
	return &cli.Command{
		Name:      "tenant",
		Usage:     "manage the tenants of `reprise serve`: create, list, set limits, rotate tokens",
		UsageText: "reprise tenant create|ls|set|rotate [NAME] [limit flags]",
		Description: commandHelp(`Tenants are who may use a server (reprise serve without --no-auth). They
live in DATA/tenants.json; each has an API token, of which only a hash is
stored, and limits. A running server sees changes within a second.

   create NAME   add a tenant; prints its token on stdout, once
   ls            list tenants and their limits
   set NAME      change limits (flags below); the rest stay
   rotate NAME   replace the token; the old one stops working

Limits (a 0 or absent flag means the default). Sizes take KiB, MiB, GiB.
rate, burst, search-rate, module-size and storage apply at once; memory,
step-time, concurrency, journal-length, pending, children, depth, http-allow,
http-allow-ranges, payload-size (inside executions) and retention when the
server next starts. Outbound HTTP is checked on the address dialled: internal addresses
are refused unless http-allow-ranges holds them, so allowing a name (even
localhost) reaches no internal port.`,
			"reprise tenant create acme --rate 50 --memory 64MiB",
			"export REPRISE_TOKEN=$(reprise tenant create acme)",
			"reprise tenant set acme --http-allow api.example.com,*.internal.example.com",
			"reprise tenant rotate acme"),
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "memory", Usage: "memory per instance, `SIZE` (default 128MiB)"},
			&cli.DurationFlag{Name: "step-time", Usage: "time a guest may run between blocking calls (default 10s)"},
			&cli.IntFlag{Name: "concurrency", Usage: "guests running at once; more wait their turn (default 4)"},
			&cli.Float64Flag{Name: "rate", Usage: "executions and promises created per second through the API (default 100)"},
			&cli.IntFlag{Name: "burst", Usage: "executions that may start at once above the rate (default max(200, rate))"},
			&cli.StringFlag{Name: "module-size", Usage: "largest module upload, `SIZE` (default 32MiB)"},
			&cli.StringFlag{Name: "payload-size", Usage: "largest input, result or promise value, `SIZE` (default 1MiB)"},
			&cli.IntFlag{Name: "journal-length", Usage: "steps of one execution attempt (default 10000)"},
			&cli.Float64Flag{Name: "search-rate", Usage: "searches (pages of ls, GET /v1/promises, /v1/executions) per second through the API, bursts of twice that (default 50)"},
			&cli.StringFlag{Name: "storage", Usage: "disk space the tenant's store may occupy, `SIZE`; past it writes get 507 (default 1GiB)"},
			&cli.IntFlag{Name: "pending", Usage: "pending executions the tenant may have; invocations past it are refused (default 10000)"},
			&cli.IntFlag{Name: "children", Usage: "children one execution may invoke (default 1000)"},
			&cli.IntFlag{Name: "depth", Usage: "how deep invocations may nest (default 16)"},
			&cli.StringFlag{Name: "memory-budget", Usage: "memory the server may hold for the tenant (instances, compiles, buffers), `SIZE`; capped by serve's --memory-budget (default 1GiB)"},
			&cli.IntFlag{Name: "compiles", Usage: "modules compiled at once (default 1)"},
			&cli.Float64Flag{Name: "deploy-rate", Usage: "deploys per second (default 2)"},
			&cli.IntFlag{Name: "deploy-burst", Usage: "deploys at once above the deploy rate (default 20)"},
			&cli.StringFlag{Name: "retention", Usage: "how long finished executions and settled promises are kept, then purged: `DURATION` (72h), days (30d), or forever (default 7d)"},
			&cli.StringFlag{Name: "function-body-size", Usage: "largest function body of a module, `SIZE` (default 256KiB)"},
			&cli.StringSliceFlag{Name: "http-allow", Usage: "`HOSTS` guests may reach over HTTP: names, *.example.com, * for any; \"none\" clears (default none)"},
			&cli.StringSliceFlag{Name: "http-allow-ranges", Usage: "internal address `CIDRS` guests may connect to (loopback, private, link-local, ... are refused by the address dialled, whatever the name), e.g. 10.1.0.0/16; \"none\" clears (default none)"},
		},
		OnUsageError: onUsageError,
		Action: func(c *cli.Context) error {
			args := c.Args().Slice()
			if len(args) == 0 {
				return usageErrorf("tenant: say what to do: create NAME, ls, set NAME or rotate NAME")
			}
			reg, err := tenant.Open(a.tenantsFile())
			if err != nil {
				return err
			}
			verb, rest := args[0], args[1:]
			want := 1
			if verb == "ls" || verb == "list" {
				want = 0
			}
			if len(rest) != want {
				return usageErrorf("tenant %s takes %d argument(s), got %d: `reprise tenant --help` shows the usage", verb, want, len(rest))
			}
			switch verb {
			case "create":
				return a.tenantCreate(c, reg, rest[0])
			case "ls", "list":
				return a.tenantList(reg)
			case "set":
				return a.tenantSet(c, reg, rest[0])
			case "rotate":
				token, err := reg.Rotate(rest[0])
				if err != nil {
					return tenantError(err)
				}
				fmt.Fprintln(a.stdout, token)
				fmt.Fprintf(a.stderr, "tenant %s has a new token (shown once, keep it now); the old one no longer works\n", rest[0])
				return nil
			}
			return usageErrorf("tenant: unknown action %q: use create, ls, set or rotate", verb)
		},
	}
}

func (a *app) tenantCreate(c *cli.Context, reg *tenant.Registry, name string) error {
	var l tenant.Limits
	if err := limitFlags(c, &l); err != nil {
		return err
	}
	_, token, err := reg.Create(name, l)
	if err != nil {
		return tenantError(err)
	}
	fmt.Fprintln(a.stdout, token)
	fmt.Fprintf(a.stderr, "created tenant %s; its token is above, shown this once (only its hash is kept): clients send it as \"Authorization: Bearer TOKEN\", or set REPRISE_TOKEN for the CLI\n", name)
	return nil
}

func (a *app) tenantSet(c *cli.Context, reg *tenant.Registry, name string) error {
	var ferr error
	t, err := reg.SetLimits(name, func(l *tenant.Limits) { ferr = limitFlags(c, l) })
	if ferr != nil {
		return ferr
	}
	if err != nil {
		return tenantError(err)
	}
	fmt.Fprintf(a.stdout, "%s\t%s\n", t.Name, describeLimits(t.Limits))
	return nil
}

func (a *app) tenantList(reg *tenant.Registry) error {
	ts, err := reg.List()
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(a.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tCREATED\tLIMITS")
	for _, t := range ts {
		fmt.Fprintf(tw, "%s\t%s\t%s\n", t.Name, t.CreatedOn.Local().Format(time.DateTime), describeLimits(t.Limits))
	}
	return tw.Flush()
}

// limitFlags copies the limit flags given on the command line into l.
func limitFlags(c *cli.Context, l *tenant.Limits) error {
	mem := int64(l.Memory)
	sizes := []struct {
		flag string
		dst  *int64
	}{{"memory", &mem}, {"module-size", &l.ModuleSize}, {"payload-size", &l.PayloadSize}, {"storage", &l.Storage},
		{"memory-budget", &l.MemoryBudget}, {"function-body-size", &l.FunctionBodySize}}
	for _, f := range sizes {
		if !c.IsSet(f.flag) {
			continue
		}
		n, err := tenant.ParseSize(c.String(f.flag))
		if err != nil {
			return usageErrorf("--%s: %v", f.flag, err)
		}
		*f.dst = n
	}
	l.Memory = uint64(mem)
	if c.IsSet("step-time") {
		l.StepTime = tenant.Duration(c.Duration("step-time"))
	}
	for flag, dst := range map[string]*int{"concurrency": &l.Concurrency, "burst": &l.Burst, "journal-length": &l.JournalLength,
		"pending": &l.Pending, "children": &l.Children, "depth": &l.Depth, "compiles": &l.Compiles, "deploy-burst": &l.DeployBurst} {
		if c.IsSet(flag) {
			*dst = c.Int(flag)
		}
	}
	for flag, dst := range map[string]*float64{"rate": &l.Rate, "search-rate": &l.SearchRate, "deploy-rate": &l.DeployRate} {
		if c.IsSet(flag) {
			*dst = c.Float64(flag)
		}
	}
	if c.IsSet("retention") {
		r, err := tenant.ParseRetention(c.String("retention"))
		if err != nil {
			return usageErrorf("--retention: %v", err)
		}
		l.Retention = r
	}
	if c.IsSet("http-allow") {
		l.HTTPAllow = splitList(c.StringSlice("http-allow"))
	}
	if c.IsSet("http-allow-ranges") {
		l.HTTPAllowRanges = splitList(c.StringSlice("http-allow-ranges"))
	}
	if err := l.Validate(); err != nil {
		return withCode(ExitUsage, err)
	}
	return nil
}

// splitList reads a repeatable, comma-separated flag; "none" clears it.
func splitList(vs []string) []string {
	var out []string
	for _, v := range vs {
		for _, x := range strings.Split(v, ",") {
			if x = strings.ToLower(strings.TrimSpace(x)); x != "" && x != "none" {
				out = append(out, x)
			}
		}
	}
	return out
}

// describeLimits lists the effective limits, one word each.
func describeLimits(set tenant.Limits) string {
	l := set.WithDefaults()
	http := "none"
	if len(l.HTTPAllow) > 0 {
		http = strings.Join(l.HTTPAllow, ",")
	}
	out := fmt.Sprintf("memory=%s step_time=%v concurrency=%d rate=%g/s burst=%d module_size=%s payload_size=%s journal_length=%d storage=%s pending=%d children=%d depth=%d memory_budget=%s compiles=%d deploy_rate=%g/s deploy_burst=%d function_body_size=%s http_allow=%s",
		sizeText(int64(l.Memory)), time.Duration(l.StepTime), l.Concurrency, l.Rate, l.Burst,
		sizeText(l.ModuleSize), sizeText(l.PayloadSize), l.JournalLength, sizeText(l.Storage), l.Pending, l.Children, l.Depth,
		sizeText(l.MemoryBudget), l.Compiles, l.DeployRate, l.DeployBurst, sizeText(l.FunctionBodySize), http)
	ranges := "none"
	if len(l.HTTPAllowRanges) > 0 {
		ranges = strings.Join(l.HTTPAllowRanges, ",")
	}
	return out + " http_allow_ranges=" + ranges + fmt.Sprintf(" search_rate=%g/s", l.SearchRate) + " retention=" + retentionText(l.Retention)
}

func retentionText(d tenant.Duration) string {
	const day = 24 * time.Hour
	switch v := time.Duration(d); {
	case d == tenant.Forever:
		return "forever"
	case v >= day && v%day == 0:
		return fmt.Sprintf("%dd", v/day)
	default:
		return v.String()
	}
}

func sizeText(n int64) string {
	switch {
	case n >= 1<<30 && n%(1<<30) == 0:
		return fmt.Sprintf("%dGiB", n>>30)
	case n >= 1<<20 && n%(1<<20) == 0:
		return fmt.Sprintf("%dMiB", n>>20)
	case n >= 1<<10 && n%(1<<10) == 0:
		return fmt.Sprintf("%dKiB", n>>10)
	}
	return fmt.Sprintf("%dB", n)
}

// tenantError gives the registry's errors their exit codes.
func tenantError(err error) error {
	switch {
	case errors.Is(err, tenant.ErrNotFound):
		return withCode(ExitNotFound, fmt.Errorf("%w: `reprise tenant ls` lists the tenants", err))
	case errors.Is(err, tenant.ErrBadName), errors.Is(err, tenant.ErrExists):
		return withCode(ExitUsage, err)
	}
	return err
}
