package preview

import (
	"errors"
	"fmt"
	"io"
)

// ErrFindings marks a stack that evaluates but has open policy findings.
var ErrFindings = errors.New("open policy findings")

// ErrProductionData marks a diff that would delete or replace production data or the production address (the
// "!! PRODUCTION DATA" lines), so that CI can stop on it.
var ErrProductionData = errors.New("production data would be deleted or replaced")

// Format is how Print writes a report.
type Format int

const (
	// Text is the tree, the findings, the cost and the outputs, for people.
	Text Format = iota
	// JSON is the stable JSON report, for golden files and Diff.
	JSON
)

// Print evaluates Pulumi.<stack>.yaml in dir and writes its report, or, when base names a JSON report, what
// the stack changes relative to it. After writing the report or the diff, it returns an error wrapping
// ErrProductionData when the diff deletes or replaces production data, else one wrapping ErrFindings when the
// stack has open findings.
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
		changes := Diff(old, report)
		if err = WriteDiff(w, old, report, changes); err != nil {
			return err
		}
		if n := countProductionData(changes); n > 0 {
			return fmt.Errorf("%w: %d resource(s) (see the !! PRODUCTION DATA lines)", ErrProductionData, n)
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

// countProductionData counts the changes that delete or replace production data.
func countProductionData(changes []Change) int {
	n := 0
	for _, c := range changes {
		if c.ProductionData && (c.Kind == "remove" || c.Kind == "environment" || len(c.ReplaceBecause) > 0) {
			n++
		}
	}
	return n
}
