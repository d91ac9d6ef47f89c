// Command latchkey is the Latchkey OAuth 2.0 authorization server and its
// admin tools. Run "latchkey --help" for the subcommands.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/cobra"
)

// Exit codes (SPEC §1).
const (
	exitOK      = 0
	exitRuntime = 1
	exitUsage   = 2
)

// usageError marks an error caused by the command line or the config file:
// exit code 2.
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

func usage(format string, args ...any) error { return usageError{fmt.Errorf(format, args...)} }

func main() {
	os.Exit(run(context.Background(), os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

// run executes the command line and returns the process exit code.
func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	root := newRoot()
	root.SetArgs(args)
	root.SetIn(stdin)
	root.SetOut(stdout)
	root.SetErr(stderr)
	err := root.ExecuteContext(ctx)
	if err == nil {
		return exitOK
	}
	var ue usageError
	if errors.As(err, &ue) || strings.HasPrefix(err.Error(), "unknown command") {
		if msg := err.Error(); msg != "" {
			fmt.Fprintln(stderr, "latchkey: "+msg)
		}
		return exitUsage
	}
	fmt.Fprintln(stderr, "latchkey: "+err.Error())
	return exitRuntime
}

func newRoot() *cobra.Command {
	root := &cobra.Command{
		Use:   "latchkey",
		Short: "Latchkey, an OAuth 2.0 authorization server",
		Long: `Latchkey is an OAuth 2.0 authorization server: realms, users, clients, signing
keys and tokens, reached through the standard OAuth endpoints and through
compatibility surfaces for APIs that existing clients already speak.

Start a development server (SQLite and generated credentials under ./data):
  latchkey serve

Exit codes: 0 ok, 1 runtime failure, 2 a bad command line or config.`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	v := readVersion()
	root.Version = v.Version // makes cobra add --version, printed as `latchkey version` prints it
	root.SetVersionTemplate(strings.ReplaceAll(v.String(), "{{", "{{`{{`}}"))
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error {
		return usage("%v (see %s --help)", err, c.CommandPath())
	})
	root.AddCommand(newServeCmd(), newMigrateCmd(), newConfigCmd(), newKeysCmd(), newSecretCmd(), newUsersCmd(), newAptCmd(), newServiceTokenCmd(),
		newHealthcheckCmd(), newVersionCmd())
	return root
}

// exactArgs is cobra.ExactArgs with a usage error (exit 2).
func exactArgs(n int) cobra.PositionalArgs {
	return func(c *cobra.Command, args []string) error {
		if err := cobra.ExactArgs(n)(c, args); err != nil {
			return usage("%v (see %s --help)", err, c.CommandPath())
		}
		return nil
	}
}
