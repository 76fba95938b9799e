package command

import "github.com/urfave/cli/v2"

// tenantCommand manages the tenants a server serves.
func (a *app) tenantCommand() *cli.Command {
	return &cli.Command{
		Name:  "tenant",
		Usage: "manage the tenants of `reprise serve`: create, list, set limits, rotate tokens",
	}
}
