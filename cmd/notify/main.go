// Command notify reports a deploy, a drift check or a reap to the team: the job summary ($GITHUB_STEP_SUMMARY)
// gets the full report and an optional Slack-compatible incoming webhook ($SLACK_WEBHOOK_URL, a repository secret)
// a short message. Without the webhook it prints a notice and succeeds. See internal/notify.
//
//	notify -title "deploy staging" -status success -url http://203.0.113.10:8080/ \
//	  -boot-timeline up.log -section "Outputs=outputs.json" -section "Smoke test=smoke.txt" [-chat failure]
//
// Exit status: 0 reported (a webhook that fails is a warning), 1 the job summary could not be written, 2 the
// command line is wrong.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"

	"appstack/internal/notify"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	err := notify.Command(ctx, os.Args[1:], os.Getenv, os.Stdout, nil)
	switch {
	case errors.Is(err, notify.ErrUsage):
		fmt.Fprintln(os.Stderr, "notify:", err)
		os.Exit(2)
	case err != nil:
		fmt.Fprintln(os.Stderr, "notify:", err)
		os.Exit(1)
	}
}
