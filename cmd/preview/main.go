// Command preview is appstack's offline preview: it evaluates the program against a committed stack file with
// no cloud account and prints every resource it would declare as a tree, then the stack outputs. Values that
// only AWS can know (ids, addresses, digests) come from deterministic stand-ins.
//
//	go run ./cmd/preview                 # the staging stack
//	go run ./cmd/preview -stack production
package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"

	"appstack/infra"
	"appstack/internal/offline"
)

func main() {
	stack := flag.String("stack", "staging", "stack whose Pulumi.<stack>.yaml to preview")
	dir := flag.String("dir", ".", "project directory holding Pulumi.yaml and the stack files")
	flag.Parse()
	if err := run(os.Stdout, *dir, *stack); err != nil {
		fmt.Fprintln(os.Stderr, "preview:", err)
		os.Exit(1)
	}
}

func run(w io.Writer, dir, stack string) error {
	if err := os.Chdir(dir); err != nil {
		return err
	}
	res, err := offline.RunStackFile(infra.Program, ".", stack, true)
	if err != nil {
		return fmt.Errorf("stack %s: %w", stack, err)
	}
	fmt.Fprintf(w, "Offline preview of stack %q: %d resources (no cloud account used; ids, addresses and "+
		"digests are stand-ins)\n\n", stack, len(res.Resources))
	if err := res.WriteTree(w); err != nil {
		return err
	}
	fmt.Fprintln(w, "\nOutputs:")
	names := make([]string, 0, len(res.Exports))
	for name := range res.Exports {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		v := fmt.Sprint(res.Exports[name])
		if slices.Contains(res.SecretExports, name) {
			v = "[secret]"
		}
		fmt.Fprintf(w, "  %-15s %s\n", name, strings.TrimSpace(v))
	}
	return nil
}
