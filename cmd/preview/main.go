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
// Exit status: 0 clean, 1 the stack could not be evaluated (bad config, missing file), 3 open policy findings.
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
	switch {
	case errors.Is(err, preview.ErrFindings):
		fmt.Fprintln(os.Stderr, "preview:", err)
		os.Exit(ExitFindings)
	case err != nil:
		fmt.Fprintln(os.Stderr, "preview:", err)
		os.Exit(1)
	}
}
