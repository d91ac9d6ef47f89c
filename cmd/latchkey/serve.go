package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/go-sql-driver/mysql"
	"github.com/spf13/cobra"

	"github.com/latchkey/latchkey/accounts"
	"github.com/latchkey/latchkey/config"
	"github.com/latchkey/latchkey/server"
	"github.com/latchkey/latchkey/storage"
)

// devDataDir is where `serve` without --config keeps its generated state.
const devDataDir = "data"

type serveFlags struct {
	config    string
	logLevel  string
	logFormat string
}

func newServeCmd() *cobra.Command {
	var f serveFlags
	cmd := &cobra.Command{
		Use:   "serve [--config FILE]",
		Short: "Run the server",
		Long: `Run the authorization server.

Without --config it runs on development defaults on 127.0.0.1:8080: SQLite
under ./data/, a signing key generated once and kept there, and a demo realm
with one of each declared thing. The first start writes the generated config
(hashes only) to ./data/latchkey.yaml and the secrets, once, to
./data/dev-credentials.txt (mode 0600). SIGHUP reloads the config file;
SIGTERM or Ctrl-C shuts down gracefully.`,
		Example: `  # development defaults
  latchkey serve
  . data/dev-credentials.txt
  curl -s -u "$DEMO_CLIENT_ID:$DEMO_CLIENT_SECRET" -d grant_type=client_credentials \
    http://127.0.0.1:8080/oauth2/token

  # production: a config file, MySQL from the environment
  LATCHKEY_DATABASE_DSN='latchkey:pw@tcp(db:3306)/latchkey?parseTime=true' \
    latchkey serve --config /etc/latchkey/latchkey.yaml`,
		Args: exactArgs(0),
		RunE: func(cmd *cobra.Command, _ []string) error { return serve(cmd.Context(), cmd.ErrOrStderr(), f) },
	}
	cmd.Flags().StringVar(&f.config, "config", "", "config file (default: development defaults under ./data)")
	addLogFlags(cmd, &f.logLevel, &f.logFormat)
	return cmd
}

func addLogFlags(cmd *cobra.Command, level, format *string) {
	cmd.Flags().StringVar(level, "log-level", "info", "log level: debug, info (one line per request), warn or error")
	cmd.Flags().StringVar(format, "log-format", "text", "log format: text or json")
}

func newLogger(w io.Writer, level, format string) (*slog.Logger, error) {
	var lv slog.Level
	if err := lv.UnmarshalText([]byte(level)); err != nil {
		return nil, usage("--log-level %q: want debug, info, warn or error", level)
	}
	opts := &slog.HandlerOptions{Level: lv}
	switch format {
	case "text":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	}
	return nil, usage("--log-format %q: want text or json", format)
}

// loadConfig loads --config, or the development defaults when it is empty.
// It returns the path that SIGHUP reloads.
func loadConfig(log *slog.Logger, path string) (*config.Snapshot, string, error) {
	if path == "" {
		snap, created, err := config.LoadDev(devDataDir, os.LookupEnv)
		if err != nil {
			return nil, "", configError(err)
		}
		yamlPath := filepath.Join(devDataDir, "latchkey.yaml")
		credPath := filepath.Join(devDataDir, "dev-credentials.txt")
		if created {
			log.Info("generated development config; the secrets are in the credentials file (mode 0600), not in this log",
				"config", yamlPath, "credentials", credPath)
		} else {
			log.Info("using development config", "config", yamlPath, "credentials", credPath)
		}
		return snap, yamlPath, nil
	}
	snap, err := config.Load(path, os.LookupEnv)
	if err != nil {
		return nil, "", configError(err)
	}
	return snap, path, nil
}

// configError prints every config error (one per line) and makes the exit code 2.
func configError(err error) error {
	var errs config.Errors
	if errors.As(err, &errs) {
		return usageError{fmt.Errorf("the config has %d error(s):\n%s", len(errs), err)}
	}
	return usageError{err}
}

func logWarnings(log *slog.Logger, snap *config.Snapshot) {
	for _, w := range snap.Warnings {
		log.Warn("config: " + w)
	}
}

// openStore opens the configured database and migrates it when asked.
func openStore(ctx context.Context, log *slog.Logger, snap *config.Snapshot, migrate bool) (*storage.Store, error) {
	store, err := storage.Open(ctx, snap.Database.Driver, snap.Database.DSN, storage.Options{Logger: log})
	if err != nil {
		return nil, fmt.Errorf("open %s database %s: %w", snap.Database.Driver, redactDSN(snap.Database.Driver, snap.Database.DSN), err)
	}
	if migrate {
		if err := store.Migrate(ctx); err != nil {
			store.Close()
			return nil, fmt.Errorf("migrate database: %w", err)
		}
	}
	return store, nil
}

// redactDSN hides a MySQL password so the DSN can be logged.
func redactDSN(driver, dsn string) string {
	if driver != "mysql" {
		return dsn
	}
	cfg, err := mysql.ParseDSN(dsn)
	if err != nil {
		return "(unparseable DSN)"
	}
	if cfg.Passwd != "" {
		cfg.Passwd = "REDACTED"
	}
	return strings.Replace(cfg.FormatDSN(), "REDACTED", "***", 1)
}

func serve(parent context.Context, stderr io.Writer, f serveFlags) error {
	log, err := newLogger(stderr, f.logLevel, f.logFormat)
	if err != nil {
		return err
	}
	snap, source, err := loadConfig(log, f.config)
	if err != nil {
		return err
	}
	logWarnings(log, snap)
	ctx, stop := signal.NotifyContext(parent, os.Interrupt, syscall.SIGTERM)
	defer stop()

	store, err := openStore(ctx, log, snap, snap.Database.AutoMigrate)
	if err != nil {
		return err
	}
	defer func() {
		if err := store.Close(); err != nil {
			log.Warn("closing the database failed", "error", err)
		}
	}()
	srv, err := server.New(snap, store, server.Options{Logger: log})
	if err != nil {
		return err
	}
	if f.config == "" {
		if err := ensureDemoUser(ctx, log, srv, snap); err != nil {
			return err
		}
	}
	ln, err := net.Listen("tcp", snap.Listen)
	if err != nil {
		return fmt.Errorf("listen on %s: %w (is another server running there? set listen: or LATCHKEY_LISTEN)", snap.Listen, err)
	}
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	go reloadOnHUP(ctx, hup, log, srv, source)
	log.Info("latchkey listening", "address", "http://"+ln.Addr().String(), "issuer", snap.Issuer,
		"database", snap.Database.Driver+" "+redactDSN(snap.Database.Driver, snap.Database.DSN), "config", snap.Source)
	if err := srv.Serve(ctx, ln); err != nil {
		return err
	}
	log.Info("latchkey stopped")
	return nil
}

// reloadOnHUP reloads the config file on every signal from hup: a valid file
// replaces the running config atomically; an invalid one is logged and the
// running config stays in force.
func reloadOnHUP(ctx context.Context, hup <-chan os.Signal, log *slog.Logger, srv *server.Server, path string) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-hup:
		}
		snap, err := config.Load(path, os.LookupEnv)
		if err == nil {
			err = srv.Reload(snap)
		}
		if err != nil {
			log.Error("config reload rejected; the running config stays in force. Fix the file and send SIGHUP again",
				"config", path, "errors", err.Error())
		}
	}
}

// ensureDemoUser creates the development defaults' demo user from
// dev-credentials.txt when it is not in the database yet (a fresh data
// directory, or a deleted database). Its password is never logged.
func ensureDemoUser(ctx context.Context, log *slog.Logger, srv *server.Server, snap *config.Snapshot) error {
	creds, err := config.ReadDevCredentials(devDataDir)
	if err != nil {
		return fmt.Errorf("read the development credentials: %w", err)
	}
	username, password := creds["DEMO_USERNAME"], creds["DEMO_PASSWORD"]
	realm := snap.Realm("rl_demo")
	if username == "" || password == "" || realm == nil {
		return nil // an older or edited data directory: nothing to create
	}
	_, err = srv.Accounts().GetByUsername(ctx, realm.ID, username)
	if err == nil {
		return nil
	}
	if !errors.Is(err, accounts.ErrNotFound) {
		return fmt.Errorf("look up the demo user: %w", err)
	}
	u, err := srv.Accounts().Create(ctx, realm, accounts.NewUser{Username: username, Password: password})
	if err != nil {
		return fmt.Errorf("create the demo user: %w", err)
	}
	log.Info("created the demo user; its password is in the credentials file", "realm", realm.ID,
		"username", username, "id", u.ID, "credentials", filepath.Join(devDataDir, "dev-credentials.txt"))
	return nil
}
