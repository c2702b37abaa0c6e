package main

import (
	"flag"
	"fmt"
	"io"
	"slices"
	"strings"

	"appstack/internal/ghcomment"
)

// command is one stackctl command as -h describes it.
type command struct {
	// name is the command's word; synopsis its flags in short; summary one line on what it does.
	name, synopsis, summary string
	// flags are the flags of the shared flag set this command reads (the rest are listed as common).
	flags []string
}

// commands is every stackctl command, in the order -h lists them.
var commands = []command{
	{"review", "-pr N [-base staging] [-ttl 72h] [-outputs F]",
		"create or refresh the review stack pr-N from the base stack's configuration, then up it",
		[]string{"pr", "base", "ttl", "outputs"}},
	{"up", "-stack S [-outputs F]", "pulumi up of the stack, with the policy pack", []string{"stack", "outputs"}},
	{"preview", "-stack S -out F", "pulumi preview --diff of the stack, with the policy pack, into a file",
		[]string{"stack", "out"}},
	{"destroy", "-stack pr-N", "destroy and remove an ephemeral (review) stack", []string{"stack"}},
	{"reap", "[-closed 3,5,8]", "destroy and remove the review stacks past their expiry or whose pull request " +
		"is closed", []string{"closed"}},
	{"outputs", "-stack S -out F", "write the stack's current outputs (its image digests) to a file, before an up",
		[]string{"stack", "out"}},
	{"rollback", "-stack S -to F [-outputs F]", "redeploy the image digests recorded by outputs",
		[]string{"stack", "to", "outputs"}},
	{"drift", "-stack S -out F", "a refresh preview that expects no change, into a file; exit 3 on drift",
		[]string{"stack", "out"}},
	{"unlock", "-stack S [-min-age 1h] [-force]", "release the state lock a cancelled job left",
		[]string{"stack", "min-age", "force"}},
	{"install-cli", "", "install the pinned Pulumi CLI if missing and print its root", []string{"pulumi-version"}},
	{"comment", "-pr N -kind K -file F | -previews DIR -head-sha SHA ...",
		"post or edit a pull request's comment: a review stack's URLs, or the preview run's previews", nil},
	{"setup", "[-bootstrap bootstrap] [-bootstrap-stack main]",
		"once per repository, after the bootstrap: create staging and production in its state bucket, each " +
			"with its KMS secrets provider; a second run changes nothing", nil},
	{"help", "[command]", "list the commands, or describe one command and its flags", nil},
}

// commonFlags are the shared flags every stack command takes.
var commonFlags = []string{"dir", "binary", "policy-pack", "pulumi-version", "secrets-provider"}

// commentFlags are stackctl comment's flags (internal/ghcomment.Command) and their meaning.
var commentFlags = [][2]string{
	{"-pr N", "pull request number"},
	{"-kind K", "which comment to post or edit, such as review-stack"},
	{"-file F", "file whose contents make the comment"},
	{"-sha SHA", "commit the comment describes"},
	{"-title T", "the comment's title (default: the kind)"},
	{"-previews DIR", "directory of the preview run's artifacts; the pull request comes from the run's head"},
	{"-head-sha SHA", "the preview run's workflow_run.head_sha"},
	{"-head-repo OWNER/NAME", "the preview run's workflow_run.head_repository.full_name"},
	{"-head-branch B", "the preview run's workflow_run.head_branch"},
	{"-run-url URL", "the preview run's workflow_run.html_url"},
}

// commandNames is the list of commands for a usage line: review|up|...
func commandNames() string {
	var names []string
	for _, c := range commands {
		names = append(names, c.name)
	}
	return strings.Join(names, "|")
}

func isHelpFlag(arg string) bool {
	return slices.Contains([]string{"-h", "-help", "--help"}, arg)
}

func lookupCommand(name string) (command, bool) {
	i := slices.IndexFunc(commands, func(c command) bool { return c.name == name })
	if i < 0 {
		return command{}, false
	}
	return commands[i], true
}

// help answers the help requests that need no flag set: `stackctl -h`, `stackctl help [command]` and
// `stackctl comment -h`, and turns `stackctl help <command>` into `<command> -h`. It returns the arguments to
// run, or done when it answered.
func help(stdout io.Writer, args []string) (rest []string, done bool, err error) {
	switch {
	case len(args) == 0:
		return args, false, nil
	case isHelpFlag(args[0]) || args[0] == "help" && (len(args) == 1 || args[1] == "help"):
		printOverview(stdout)
		return nil, true, nil
	case args[0] == "help":
		if _, ok := lookupCommand(args[1]); !ok {
			return nil, true, fmt.Errorf("%w: unknown command %q (stackctl -h lists them)", errUsage, args[1])
		}
		return help(stdout, []string{args[1], "-h"})
	case args[0] == "comment" && slices.ContainsFunc(args[1:], isHelpFlag):
		printCommentHelp(stdout)
		return nil, true, nil
	}
	return args, false, nil
}

// printCommentHelp describes stackctl comment, whose flags internal/ghcomment parses.
func printCommentHelp(stdout io.Writer) {
	c, _ := lookupCommand("comment")
	fmt.Fprintf(stdout, "%s\n\n%s\n\nFlags:\n", c.summary, ghcomment.Usage)
	for _, f := range commentFlags {
		fmt.Fprintf(stdout, "  %-26s %s\n", f[0], f[1])
	}
	fmt.Fprintln(stdout, "\nIt reads GITHUB_TOKEN, GITHUB_REPOSITORY and GITHUB_API_URL as GitHub Actions sets them.")
}

// printOverview lists every command with its one-line summary.
func printOverview(stdout io.Writer) {
	fmt.Fprintln(stdout, "stackctl runs the stack lifecycle the GitHub workflows call, on the Pulumi Automation API.")
	fmt.Fprintf(stdout, "\nUsage: stackctl <command> [flags]   (stackctl <command> -h: its flags)\n\nCommands:\n")
	for _, c := range commands {
		fmt.Fprintf(stdout, "  %-12s %s\n", c.name, c.summary)
	}
	fmt.Fprintln(stdout, "\nExit status: 0 done, 1 the step failed, 2 the command line is wrong, 3 drift found (drift).")
}

// printCommandHelp describes a command and the flags of fs it reads. With own, every flag of fs is the
// command's; otherwise fs is the stack commands' shared set: the command's own flags first, then those every
// stack command takes (any flag no command lists, so that a new flag is never left out).
func printCommandHelp(stdout io.Writer, name string, fs *flag.FlagSet, own bool) error {
	c, ok := lookupCommand(name)
	if !ok {
		return fmt.Errorf("%w: unknown command %q (stackctl -h lists them)", errUsage, name)
	}
	fmt.Fprintf(stdout, "stackctl %s %s\n\n%s\n", c.name, c.synopsis, c.summary)
	listed := map[string]bool{}
	for _, o := range commands {
		for _, f := range o.flags {
			listed[f] = true
		}
	}
	mine, common := &strings.Builder{}, &strings.Builder{}
	fs.VisitAll(func(f *flag.Flag) {
		switch {
		case own || slices.Contains(c.flags, f.Name):
			writeFlag(mine, f)
		case (slices.Contains(commonFlags, f.Name) || !listed[f.Name]) && c.name != "install-cli":
			writeFlag(common, f)
		}
	})
	if mine.Len() > 0 {
		fmt.Fprintf(stdout, "\nFlags:\n%s", mine)
	}
	if common.Len() > 0 {
		fmt.Fprintf(stdout, "\nFlags every stack command takes:\n%s", common)
	}
	return nil
}

func writeFlag(w io.Writer, f *flag.Flag) {
	value, usage := flag.UnquoteUsage(f)
	arg := "-" + f.Name
	if value != "" {
		arg += " " + value
	}
	if f.DefValue != "" && f.DefValue != "false" && f.DefValue != "0" {
		usage += fmt.Sprintf(" (default %q)", f.DefValue)
	}
	fmt.Fprintf(w, "  %-26s %s\n", arg, usage)
}
