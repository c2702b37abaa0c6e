// Command preview is appstack's offline preview: it evaluates the program against a committed stack file with
// no cloud account and prints every resource it would declare as a tree, the policy findings and waivers, an
// estimated monthly cost and the stack outputs. Values only AWS can know (ids, addresses, digests) are
// deterministic stand-ins.
//
//	go run ./cmd/preview                               # the staging stack, as text
//	go run ./cmd/preview -stack production -json       # stable JSON, for golden files and -diff
//	go run ./cmd/preview -diff base.json               # what this tree changes relative to base.json
//	go run ./cmd/preview -dir examples/mexc-sniper -stack production   # an example stack (examples/<team>/)
//
// Exit status: 0 clean, 1 the stack could not be evaluated (bad config, missing file), 3 open policy findings,
// 4 the -diff deletes or replaces production data or the production address (a "!! PRODUCTION DATA" line).
package main

import (
	"errors"
	"flag"
	"fmt"
	"os"

	"appstack/internal/preview"
)

// ExitFindings is the exit status when the stack evaluates but has open policy findings.
const ExitFindings = 3

// ExitProductionData is the exit status when -diff deletes or replaces production data or the production
// address, so that CI can stop on it; it takes precedence over ExitFindings.
const ExitProductionData = 4

func main() {
	stack := flag.String("stack", "staging", "stack whose Pulumi.<stack>.yaml to preview")
	dir := flag.String("dir", ".", "project directory holding Pulumi.yaml and the stack files")
	asJSON := flag.Bool("json", false, "print the report as stable JSON instead of text")
	base := flag.String("diff", "", "a JSON report to compare against: print what this stack adds, removes and changes")
	flag.Parse()
	format := preview.Text
	if *asJSON {
		format = preview.JSON
	}
	// The program reads build contexts relative to the working directory, as under pulumi.
	err := os.Chdir(*dir)
	if err == nil {
		err = preview.Print(os.Stdout, ".", *stack, format, *base)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "preview:", err)
	}
	os.Exit(exitStatus(err))
}

// exitStatus is the exit status that reports err (see the package comment).
func exitStatus(err error) int {
	switch {
	case err == nil:
		return 0
	case errors.Is(err, preview.ErrProductionData):
		return ExitProductionData
	case errors.Is(err, preview.ErrFindings):
		return ExitFindings
	default:
		return 1
	}
}
