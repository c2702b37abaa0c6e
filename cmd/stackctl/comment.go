package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"

	"appstack/internal/ghcomment"
)

// comment runs `stackctl comment` (internal/ghcomment), with its command-line mistakes as usage errors.
func comment(ctx context.Context, args []string, stdout io.Writer) error {
	err := ghcomment.Command(ctx, args, os.Getenv, stdout)
	if errors.Is(err, ghcomment.ErrUsage) {
		return fmt.Errorf("%w: %w", errUsage, err)
	}
	return err
}
