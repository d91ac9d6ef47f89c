package main

import (
	"fmt"
	"runtime"
	"runtime/debug"
	"strings"

	"github.com/spf13/cobra"
)

// versionInfo is what `latchkey version` prints, from the build information
// the Go toolchain embeds: the module version ("(devel)" for a build from a
// clone, v1.2.3 for `go install …@v1.2.3`) and, for `go build` in a git
// clone, the commit, its time and whether the tree had local changes.
type versionInfo struct {
	Version  string
	Commit   string
	Time     string // the commit's time (the build information has no build date)
	Modified bool
	Go       string
}

func readVersion() versionInfo {
	v := versionInfo{Version: "unknown", Go: runtime.Version() + " " + runtime.GOOS + "/" + runtime.GOARCH}
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return v
	}
	if bi.Main.Version != "" {
		v.Version = bi.Main.Version
	}
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			v.Commit = s.Value
		case "vcs.time":
			v.Time = s.Value
		case "vcs.modified":
			v.Modified = s.Value == "true"
		}
	}
	return v
}

// String is the text of `latchkey version` and `latchkey --version`.
func (v versionInfo) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "latchkey %s\n", v.Version)
	switch {
	case v.Commit == "":
		b.WriteString("commit:  unknown (no VCS information: go run, go test and -buildvcs=false record none)\n")
	case v.Modified:
		fmt.Fprintf(&b, "commit:  %s, with uncommitted changes\n", v.Commit)
	default:
		fmt.Fprintf(&b, "commit:  %s\n", v.Commit)
	}
	if v.Time != "" {
		fmt.Fprintf(&b, "date:    %s (of the commit)\n", v.Time)
	}
	fmt.Fprintf(&b, "go:      %s\n", v.Go)
	return b.String()
}

func newVersionCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the version, commit and Go version of this binary",
		Long: `Print the module version, the git commit the binary was built from (with its
date, and whether the tree had uncommitted changes) and the Go version, from
the build information Go embeds in the binary. latchkey --version prints the
same.`,
		Example: `  latchkey version
  latchkey --version`,
		Args: exactArgs(0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			_, err := fmt.Fprint(cmd.OutOrStdout(), readVersion())
			return err
		},
	}
}
