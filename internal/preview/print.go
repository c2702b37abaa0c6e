package preview

import (
	"errors"
	"fmt"
	"io"
)

// ErrFindings marks a stack that evaluates but has open policy findings.
var ErrFindings = errors.New("open policy findings")

// Format is how Print writes a report.
type Format int

const (
	// Text is the tree, the findings, the cost and the outputs, for people.
	Text Format = iota
	// JSON is the stable JSON report, for golden files and Diff.
	JSON
)

// Print evaluates Pulumi.<stack>.yaml in dir and writes its report, or, when base names a JSON report, what
// the stack changes relative to it. It returns an error wrapping ErrFindings when the stack has open findings,
// after writing the report that shows them.
func Print(w io.Writer, dir, stack string, format Format, base string) error {
	report, err := Run(dir, stack)
	if err != nil {
		return err
	}
	switch {
	case base != "":
		old, err := ReadReport(base)
		if err != nil {
			return err
		}
		err = WriteDiff(w, old, report, Diff(old, report))
		if err != nil {
			return err
		}
	case format == JSON:
		err = report.WriteJSON(w)
	default:
		err = report.WriteText(w)
	}
	if err != nil {
		return err
	}
	if n := len(report.Findings); n > 0 {
		return fmt.Errorf("%w: %d (see the Policy section)", ErrFindings, n)
	}
	return nil
}
