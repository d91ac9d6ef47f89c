package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/latchkey/latchkey/accounts"
	"github.com/latchkey/latchkey/config"
	"github.com/latchkey/latchkey/storage"
)

// usersFlags are the flags every users subcommand shares.
type usersFlags struct {
	config, realm       string
	logLevel, logFormat string
	username, email     string
	role, first, last   string
}

func newUsersCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "users",
		Short: "Create, list, activate, deactivate users and set their passwords",
		Long: `Admin operations on the users of a realm, against the database of the
config (--config FILE, or else the development config ./data/latchkey.yaml
that "latchkey serve" wrote in this directory; without either they refuse to
run rather than act on a new, empty database). They are safe while servers
run on the same database.

Passwords are read from stdin (one trailing newline is dropped) or, when stdin
is a terminal, prompted for twice without echo; never from a flag.

Exit codes: 0 ok; 2 for a bad command line, config, or value (an invalid
username or e-mail, a password the realm refuses); 1 for anything else (a
taken username, an unknown user, a database failure).`,
	}
	cmd.AddCommand(
		newUsersCreateCmd(),
		newUsersListCmd(),
		newUsersStatusCmd("activate", accounts.StatusActive),
		newUsersStatusCmd("deactivate", accounts.StatusDeactivated),
		newUsersSetPasswordCmd(),
	)
	return cmd
}

func (f *usersFlags) register(cmd *cobra.Command) {
	cmd.Flags().StringVar(&f.config, "config", "", "config file (default: ./data/latchkey.yaml, if latchkey serve made it here)")
	cmd.Flags().StringVar(&f.realm, "realm", "", "realm id, like rl_demo (required)")
	cmd.Flags().StringVar(&f.logLevel, "log-level", "warn", "log level: debug, info, warn or error")
	cmd.Flags().StringVar(&f.logFormat, "log-format", "text", "log format: text or json")
}

// registerUser adds --username and --email to name an existing user.
func (f *usersFlags) registerUser(cmd *cobra.Command) {
	cmd.Flags().StringVar(&f.username, "username", "", "the user's username")
	cmd.Flags().StringVar(&f.email, "email", "", "the user's e-mail, for a user without a username (instead of --username)")
}

// usersEnv is what a users subcommand works with: the realm, the accounts
// service on the configured database, and the store to close.
type usersEnv struct {
	realm *config.Realm
	svc   *accounts.Service
	store *storage.Store
}

// open loads the config, checks the realm, opens (and, as serve would,
// migrates) the database and starts the accounts service with the config's
// password policy.
func (f *usersFlags) open(cmd *cobra.Command) (*usersEnv, error) {
	if f.realm == "" {
		return nil, usage("--realm is required (see %s --help)", cmd.CommandPath())
	}
	log, err := newLogger(cmd.ErrOrStderr(), f.logLevel, f.logFormat)
	if err != nil {
		return nil, err
	}
	if f.config == "" {
		// Never generate a development setup here: it would be a new, empty
		// database, and the command would act on it as if it were the real one.
		dev := filepath.Join(devDataDir, config.DevConfigFile)
		if _, err := os.Stat(dev); err != nil {
			return nil, usage("no --config given, and there is no development config %s in this directory; pass --config FILE, or run this where latchkey serve made ./%s", dev, devDataDir)
		}
	}
	snap, _, err := loadConfig(log, f.config)
	if err != nil {
		return nil, err
	}
	realm := snap.Realm(f.realm)
	if realm == nil {
		ids := make([]string, len(snap.Realms))
		for i, r := range snap.Realms {
			ids[i] = r.ID
		}
		return nil, usage("realm %q is not in the config %s (its realms: %s)", f.realm, snap.Source, strings.Join(ids, ", "))
	}
	store, err := openStore(cmd.Context(), log, snap, snap.Database.AutoMigrate)
	if err != nil {
		return nil, err
	}
	svc := accounts.New(store, accounts.Options{Logger: log})
	svc.SetPolicy(snap.Passwords)
	return &usersEnv{realm: realm, svc: svc, store: store}, nil
}

// forUser opens the database, finds the user named by --username or
// --email, and runs fn with them; the database is closed afterwards.
func (f *usersFlags) forUser(cmd *cobra.Command, fn func(env *usersEnv, u *accounts.User) error) error {
	env, err := f.open(cmd)
	if err != nil {
		return err
	}
	defer env.store.Close()
	u, err := f.user(cmd.Context(), cmd, env)
	if err != nil {
		return err
	}
	return fn(env, u)
}

func (f *usersFlags) user(ctx context.Context, cmd *cobra.Command, env *usersEnv) (*accounts.User, error) {
	var u *accounts.User
	var err error
	switch {
	case f.username == "" && f.email == "":
		return nil, usage("give --username or --email to name the user (see %s --help)", cmd.CommandPath())
	case f.username != "" && f.email != "":
		return nil, usage("give only one of --username and --email (see %s --help)", cmd.CommandPath())
	case f.username != "":
		u, err = env.svc.GetByUsername(ctx, env.realm.ID, f.username)
	default:
		u, err = env.svc.GetByEmail(ctx, env.realm.ID, f.email)
	}
	if errors.Is(err, accounts.ErrNotFound) {
		return nil, fmt.Errorf("no user %q in realm %s; latchkey users list --realm %s shows them", f.username+f.email, env.realm.ID, env.realm.ID)
	}
	if err != nil {
		return nil, accountsError(env.realm.ID, err)
	}
	return u, nil
}

// accountsError turns an error of the accounts service into a message
// without package prefixes: each problem with the values (exit code 2), a
// taken username or e-mail, or the cause.
func accountsError(realm string, err error) error {
	var ve *accounts.ValidationError
	if errors.As(err, &ve) {
		msgs := make([]string, len(ve.Problems))
		for i, p := range ve.Problems {
			msgs[i] = p.Message
		}
		return usageError{errors.New(strings.Join(msgs, "; "))}
	}
	if p, ok := accounts.TakenProblem(err); ok {
		return fmt.Errorf("%s in realm %s; choose another", p.Message, realm)
	}
	msg := err.Error()
	for _, prefix := range []string{"accounts: ", "storage: "} {
		msg = strings.ReplaceAll(msg, prefix, "")
	}
	if errors.Is(err, accounts.ErrInvalidUser) || errors.Is(err, accounts.ErrWeakPassword) {
		return usageError{errors.New(msg)}
	}
	return errors.New(msg)
}

func newUsersCreateCmd() *cobra.Command {
	var f usersFlags
	cmd := &cobra.Command{
		Use:   "create --realm ID --username U [--email E] [--role R] [--config FILE]",
		Short: "Create a user with a password; prints the new user's id last",
		Long: `Create a user in a realm, with a password read from stdin or prompted for.
The username and the e-mail are each unique within the realm, compared
case-insensitively. The password must pass the realm's policy (its
password_min_length, and not one of the most common passwords). The new user's
usr_ id is printed on the last line.`,
		Example: `  printf '%s' "$NEW_PASSWORD" | latchkey users create --realm rl_demo --username sally --email sally@example.com
  latchkey users create --config /etc/latchkey/latchkey.yaml --realm rl_main --username admin --role admin   # prompts`,
		Args: exactArgs(0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if f.username == "" && f.email == "" {
				return usage("give --username (or --email for a user who logs in by e-mail); see %s --help", cmd.CommandPath())
			}
			env, err := f.open(cmd)
			if err != nil {
				return err
			}
			defer env.store.Close()
			password, err := readPassword(cmd, true)
			if err != nil {
				return err
			}
			u, err := env.svc.Create(cmd.Context(), env.realm, accounts.NewUser{
				Username: f.username, Email: f.email, Password: password,
				Role: f.role, FirstName: f.first, LastName: f.last,
			})
			if err != nil {
				return accountsError(env.realm.ID, err)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "created user %s in realm %s\n%s\n", userName(u), env.realm.ID, u.ID)
			return nil
		},
	}
	f.register(cmd)
	cmd.Flags().StringVar(&f.username, "username", "", "username, unique in the realm (case-insensitively)")
	cmd.Flags().StringVar(&f.email, "email", "", "e-mail address, unique in the realm (case-insensitively)")
	cmd.Flags().StringVar(&f.role, "role", "", `role: free text of up to 64 characters that Latchkey stores and returns (the legacy API's "role"), with no permissions of its own (default "user")`)
	cmd.Flags().StringVar(&f.first, "first-name", "", "first name")
	cmd.Flags().StringVar(&f.last, "last-name", "", "last name")
	return cmd
}

func newUsersListCmd() *cobra.Command {
	var f usersFlags
	cmd := &cobra.Command{
		Use:   "list --realm ID [--config FILE]",
		Short: "List the users of a realm",
		Long:  `List the users of a realm, oldest first: id, username, e-mail, role, status, creation time.`,
		Example: `  latchkey users list --realm rl_demo
  latchkey users list --config /etc/latchkey/latchkey.yaml --realm rl_main`,
		Args: exactArgs(0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			env, err := f.open(cmd)
			if err != nil {
				return err
			}
			defer env.store.Close()
			users, err := env.svc.List(cmd.Context(), env.realm.ID)
			if err != nil {
				return err
			}
			w := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 0, 2, ' ', 0)
			fmt.Fprintln(w, "ID\tUSERNAME\tEMAIL\tROLE\tSTATUS\tCREATED\tARBITRARY_ID")
			for _, u := range users {
				fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", u.ID, orDash(u.Username), orDash(u.Email), u.Role, u.Status,
					u.CreatedAt.UTC().Format(time.RFC3339), orDash(u.ArbitraryID))
			}
			return w.Flush()
		},
	}
	f.register(cmd)
	return cmd
}

func newUsersStatusCmd(verb, status string) *cobra.Command {
	var f usersFlags
	short := "Activate a user: they can log in again"
	long := `Activate a deactivated user: they can log in again (tokens revoked by the
deactivation stay revoked).`
	if status == accounts.StatusDeactivated {
		short = "Deactivate a user: no logins, and all their tokens revoked"
		long = `Deactivate a user: they can no longer log in or refresh, and all their tokens
are revoked at once, in the same transaction.`
	}
	cmd := &cobra.Command{
		Use:   verb + " --realm ID --username U [--config FILE]",
		Short: short,
		Long:  long,
		Example: fmt.Sprintf(`  latchkey users %s --realm rl_demo --username sally
  latchkey users %s --realm rl_demo --email sally@example.com`, verb, verb),
		Args: exactArgs(0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			return f.forUser(cmd, func(env *usersEnv, u *accounts.User) error {
				if err := env.svc.SetStatus(cmd.Context(), env.realm.ID, u.ID, status); err != nil {
					return accountsError(env.realm.ID, err)
				}
				msg := "they can log in"
				if status == accounts.StatusDeactivated {
					msg = "their tokens are revoked"
				}
				fmt.Fprintf(cmd.OutOrStdout(), "%sd user %s (%s); %s\n", verb, userName(u), u.ID, msg)
				return nil
			})
		},
	}
	f.register(cmd)
	f.registerUser(cmd)
	return cmd
}

func newUsersSetPasswordCmd() *cobra.Command {
	var f usersFlags
	cmd := &cobra.Command{
		Use:   "set-password --realm ID --username U [--config FILE]",
		Short: "Set a user's password; all their grants are revoked",
		Long: `Set a user's password, read from stdin or prompted for. It must pass the
realm's policy. All the user's grants (access and refresh tokens) are revoked,
and a lockout on their username or e-mail ends.`,
		Example: `  printf '%s' "$NEW_PASSWORD" | latchkey users set-password --realm rl_demo --username sally
  latchkey users set-password --realm rl_demo --email sally@example.com   # prompts`,
		Args: exactArgs(0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			return f.forUser(cmd, func(env *usersEnv, u *accounts.User) error {
				password, err := readPassword(cmd, true)
				if err != nil {
					return err
				}
				if err := env.svc.SetPassword(cmd.Context(), env.realm, u.ID, password, ""); err != nil {
					return accountsError(env.realm.ID, err)
				}
				fmt.Fprintf(cmd.OutOrStdout(), "password set for user %s (%s); their grants are revoked\n", userName(u), u.ID)
				return nil
			})
		},
	}
	f.register(cmd)
	f.registerUser(cmd)
	return cmd
}

// readPassword reads the password: prompted for without echo (twice, when
// confirm) when stdin is a terminal, else all of stdin with one trailing
// newline dropped.
func readPassword(cmd *cobra.Command, confirm bool) (string, error) {
	in := cmd.InOrStdin()
	if f, ok := in.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		return promptPassword(int(f.Fd()), cmd.ErrOrStderr(), confirm)
	}
	pw, err := readSecret(in)
	var ue usageError
	if errors.As(err, &ue) {
		return "", usage("no password on stdin: pipe one in (printf '%%s' \"$PASSWORD\" | %s …), or run in a terminal to be prompted", cmd.CommandPath())
	}
	return pw, err
}

func promptPassword(fd int, w io.Writer, confirm bool) (string, error) {
	fmt.Fprint(w, "Password: ")
	pw, err := term.ReadPassword(fd)
	fmt.Fprintln(w)
	if err != nil {
		return "", fmt.Errorf("read password: %w", err)
	}
	if len(pw) == 0 {
		return "", usage("no password given")
	}
	if confirm {
		fmt.Fprint(w, "Repeat password: ")
		again, err := term.ReadPassword(fd)
		fmt.Fprintln(w)
		if err != nil {
			return "", fmt.Errorf("read password: %w", err)
		}
		if string(again) != string(pw) {
			return "", usage("the passwords do not match")
		}
	}
	return string(pw), nil
}

// userName is how messages name a user: the username, else the e-mail,
// else the arbitrary id.
func userName(u *accounts.User) string {
	for _, s := range []string{u.Username, u.Email, u.ArbitraryID} {
		if s != "" {
			return fmt.Sprintf("%q", s)
		}
	}
	return u.ID
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
