// Command deploygate is the deploy workflow's gate, on GitHub's REST API (see internal/deploygate):
//
//	deploygate admit                                     print the commit this deploy run may deploy
//	deploygate current -sha SHA -environment production  refuse a commit that is no longer main's head
//	deploygate running -environment production           print the commit deploy.yml's newest successful production job deployed
//
// It uses the standard library only, so every job builds it in seconds (.github/actions/setup).
//
// Exit status: 0 let through, 1 refused or the API failed (the reason on stderr), 2 the command line or the
// environment is wrong.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"

	"appstack/internal/deploygate"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	err := deploygate.Command(ctx, os.Args[1:], os.Getenv, os.Stdout)
	stop()
	switch {
	case errors.Is(err, deploygate.ErrUsage):
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	case err != nil:
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
