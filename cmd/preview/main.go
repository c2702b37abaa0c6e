// Command preview is appstack's offline preview: it evaluates the program against a committed stack file with
// no cloud account and prints every resource it would declare as a tree, the policy findings and waivers, an
// estimated monthly cost and the stack outputs. Values only AWS can know (ids, addresses, digests) are
// deterministic stand-ins.
//
//	go run ./cmd/preview                               # the staging stack, as text
//	go run ./cmd/preview -stack production -json       # stable JSON, for golden files and -diff
//	go run ./cmd/preview -diff base.json               # what this tree changes relative to base.json
//
// Exit status: 0 clean, 1 the stack could not be evaluated (bad config, missing file), 3 open policy findings.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"

	"appstack/internal/preview"
)

// ExitFindings is the exit status when the stack evaluates but has open policy findings.
const ExitFindings = 3

// errFindings marks a report with open findings.
var errFindings = errors.New("open policy findings")

func main() {
	stack := flag.String("stack", "staging", "stack whose Pulumi.<stack>.yaml to preview")
	dir := flag.String("dir", ".", "project directory holding Pulumi.yaml and the stack files")
	asJSON := flag.Bool("json", false, "print the report as stable JSON instead of text")
	base := flag.String("diff", "", "a JSON report to compare against: print what this stack adds, removes and changes")
	flag.Parse()
	err := run(os.Stdout, *dir, *stack, *asJSON, *base)
	switch {
	case errors.Is(err, errFindings):
		fmt.Fprintln(os.Stderr, "preview:", err)
		os.Exit(ExitFindings)
	case err != nil:
		fmt.Fprintln(os.Stderr, "preview:", err)
		os.Exit(1)
	}
}

func run(w io.Writer, dir, stack string, asJSON bool, base string) error {
	if err := os.Chdir(dir); err != nil {
		return err
	}
	report, err := preview.Run(".", stack)
	if err != nil {
		return err
	}
	switch {
	case base != "":
		old, err := preview.ReadReport(base)
		if err != nil {
			return err
		}
		err = preview.WriteDiff(w, old, report, preview.Diff(old, report))
		if err != nil {
			return err
		}
	case asJSON:
		err = report.WriteJSON(w)
	default:
		err = report.WriteText(w)
	}
	if err != nil {
		return err
	}
	if n := len(report.Findings); n > 0 {
		return fmt.Errorf("%w: %d (see the Policy section)", errFindings, n)
	}
	return nil
}
