package components_test

import "github.com/pulumi/pulumi/sdk/v3/go/pulumi"

// program is a Pulumi program that creates one component, named name, and nothing else. Every component's New
// has the same shape, so one helper serves all their tests.
func program[A, C any](newComponent func(*pulumi.Context, string, *A, ...pulumi.ResourceOption) (C, error),
	name string, args *A) pulumi.RunFunc {
	return func(ctx *pulumi.Context) error {
		_, err := newComponent(ctx, name, args)
		return err
	}
}
