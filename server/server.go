package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/latchkey/latchkey/accounts"
	"github.com/latchkey/latchkey/config"
	"github.com/latchkey/latchkey/core"
	"github.com/latchkey/latchkey/handlers/authrocket"
	"github.com/latchkey/latchkey/handlers/grants"
	"github.com/latchkey/latchkey/handlers/legacy"
	"github.com/latchkey/latchkey/handlers/login"
	"github.com/latchkey/latchkey/handlers/loginid"
	"github.com/latchkey/latchkey/handlers/oauth"
	"github.com/latchkey/latchkey/handlers/surface"
	"github.com/latchkey/latchkey/handlers/workapi"
	"github.com/latchkey/latchkey/storage"
)

// Grants are the grant types the token endpoint serves.
var Grants = []core.GrantFactory{
	grants.NewClientCredentials,
	grants.NewPassword,
	grants.NewRefresh,
	grants.NewAPT,
}

// Surfaces are the compatibility surfaces the server mounts, each where and
// when its snapshot says.
var Surfaces = []surface.Surface{
	workapi.Surface{},
	authrocket.Surface{},
	loginid.Surface{},
	legacy.Surface{},
	login.Surface{},
}

// Options tune a Server; the zero value is production.
type Options struct {
	Logger *slog.Logger
	// Now is the clock for token lifetimes and JWT checks; nil = time.Now.
	Now func() time.Time
	// ShutdownTimeout bounds how long in-flight requests may take to finish.
	ShutdownTimeout time.Duration
	// PurgeInterval is how often expired rows are deleted; 0 means 1 minute,
	// negative disables the purger.
	PurgeInterval time.Duration
}

// Server is a running Latchkey: one store and one accounts service for the
// process, and for the current config snapshot its core and its whole
// router, swapped together behind an atomic pointer.
type Server struct {
	opts     Options
	log      *slog.Logger
	store    *storage.Store
	accounts *accounts.Service
	metrics  *metrics
	current  atomic.Pointer[state]
	// fixed are the settings that change only on restart.
	fixed *config.Snapshot
}

// state is what one snapshot serves with.
type state struct {
	core   *core.Core
	router *gin.Engine
}

// New builds a server for snap on store.
func New(snap *config.Snapshot, store *storage.Store, opts Options) (*Server, error) {
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.ShutdownTimeout == 0 {
		opts.ShutdownTimeout = 20 * time.Second
	}
	if opts.PurgeInterval == 0 {
		opts.PurgeInterval = time.Minute
	}
	gin.SetMode(gin.ReleaseMode)
	s := &Server{opts: opts, log: opts.Logger, store: store, metrics: newMetrics(), fixed: snap,
		accounts: accounts.New(store, accounts.Options{Now: opts.Now, Logger: opts.Logger})}
	s.accounts.SetPolicy(snap.Passwords)
	st, err := s.build(snap)
	if err != nil {
		return nil, err
	}
	s.current.Store(st)
	return s, nil
}

// build makes the core and the router of snap.
func (s *Server) build(snap *config.Snapshot) (*state, error) {
	cr, err := core.New(snap, core.Deps{Store: s.store, Accounts: s.accounts, Now: s.opts.Now}, Grants...)
	if err != nil {
		return nil, fmt.Errorf("server: build core: %w", err)
	}
	router, err := s.routes(cr)
	if err != nil {
		return nil, err
	}
	return &state{core: cr, router: router}, nil
}

// Current returns the core of the snapshot in force.
func (s *Server) Current() *core.Core { return s.current.Load().core }

// Accounts returns the process's user service.
func (s *Server) Accounts() *accounts.Service { return s.accounts }

// Handler returns the HTTP handler (for tests and embedding): each request
// runs on the router of the snapshot in force when it arrived.
func (s *Server) Handler() http.Handler { return http.HandlerFunc(s.serveHTTP) }

func (s *Server) serveHTTP(w http.ResponseWriter, r *http.Request) {
	s.current.Load().router.ServeHTTP(w, r)
}

// Reload swaps in snap for new requests — its core and its whole router, so
// a surface switched on or off or moved to a new prefix applies at once;
// requests in flight finish on the old ones. listen, database and issuer
// keep their running values (they change only on restart), and a change to
// them is logged.
func (s *Server) Reload(snap *config.Snapshot) error {
	next := *snap // shallow copy: the snapshot itself is never modified
	for _, d := range []struct{ key, was, now string }{
		{"issuer", s.fixed.Issuer, snap.Issuer},
		{"listen", s.fixed.Listen, snap.Listen},
		{"database.driver", s.fixed.Database.Driver, snap.Database.Driver},
		{"database.dsn", s.fixed.Database.DSN, snap.Database.DSN},
	} {
		if d.was != d.now {
			s.log.Warn("config reload: this key changes only on restart; keeping the running value", "key", d.key)
		}
	}
	next.Issuer, next.Listen, next.Database = s.fixed.Issuer, s.fixed.Listen, s.fixed.Database
	st, err := s.build(&next)
	if err != nil {
		s.metrics.reloads.WithLabelValues("rejected").Inc()
		return err
	}
	s.accounts.SetPolicy(next.Passwords)
	s.current.Store(st)
	s.metrics.reloads.WithLabelValues("ok").Inc()
	for _, w := range snap.Warnings {
		s.log.Warn("config: " + w)
	}
	s.log.Info("config reloaded", "source", snap.Source, "clients", len(snap.Clients), "realms", len(snap.Realms))
	return nil
}

// routes builds the router of one snapshot: middleware, the OAuth
// endpoints, each enabled surface at its prefix, health and metrics.
func (s *Server) routes(cr *core.Core) (*gin.Engine, error) {
	snap := cr.Snapshot()
	e := gin.New()
	e.HandleMethodNotAllowed = true
	e.ContextWithFallback = true
	// gin trusts every proxy by default, so any client could set its address
	// in the access log with X-Forwarded-For: trust only trusted_proxies.
	if err := e.SetTrustedProxies(snap.TrustedProxies); err != nil {
		return nil, fmt.Errorf("server: trusted_proxies: %w", err)
	}
	e.Use(requestID(), recovery(s.log), observe(s.log, s.metrics), bodyLimit(MaxBodyBytes))
	e.NoRoute(func(c *gin.Context) {
		writeJSONError(c, http.StatusNotFound, "not_found", "No such route: see /.well-known/oauth-authorization-server for the endpoints.")
	})
	e.NoMethod(func(c *gin.Context) {
		writeJSONError(c, http.StatusMethodNotAllowed, "method_not_allowed", "This route does not accept "+c.Request.Method+".")
	})
	oh, err := oauth.New(cr, oauth.Options{
		Logger:   s.log,
		OnIssued: func(g string) { s.metrics.issued.WithLabelValues(g).Inc() },
		// handlers/login serves the authorization endpoint.
		Browser: &oauth.Browser{AuthorizationPath: login.AuthorizePath, EndSessionPath: login.LogoutPath, Prompts: login.Prompts},
	})
	if err != nil {
		return nil, fmt.Errorf("server: %w", err)
	}
	oh.Register(e)
	s.ceilingRoutes(e, cr)
	env := surface.Env{Core: cr, Accounts: s.accounts, Logger: s.log}
	for _, sf := range Surfaces {
		if prefix, on := sf.Prefix(snap); on {
			sf.Mount(e.Group(prefix), env)
		}
	}
	e.GET("/healthz", func(c *gin.Context) { c.JSON(http.StatusOK, gin.H{"status": "ok"}) })
	e.GET("/readyz", s.readyz)
	metricsHandler := promhttp.HandlerFor(s.metrics.registry, promhttp.HandlerOpts{})
	e.GET("/metrics", gin.WrapH(metricsHandler))
	return e, nil
}

func (s *Server) readyz(c *gin.Context) {
	ctx, cancel := context.WithTimeout(c.Request.Context(), 2*time.Second)
	defer cancel()
	if err := s.store.Ping(ctx); err != nil {
		s.log.Warn("readiness check failed: database unreachable", "error", err)
		c.JSON(http.StatusServiceUnavailable, gin.H{"status": "unavailable", "reason": "database unreachable"})
		return
	}
	c.JSON(http.StatusOK, gin.H{"status": "ready"})
}

// Serve accepts connections on ln until ctx ends, then shuts down
// gracefully: the listener closes at once (new connections are refused) and
// in-flight requests get ShutdownTimeout to finish. The caller closes the
// store after Serve returns, so the database goes last.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	srv := &http.Server{
		Handler:           s.Handler(),
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       15 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
		BaseContext:       func(net.Listener) context.Context { return context.WithoutCancel(ctx) },
	}
	if s.opts.PurgeInterval > 0 {
		go s.store.RunPurger(ctx, s.opts.PurgeInterval, s.Current().Snapshot().Tokens.Leeway)
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("server: %w", err)
	case <-ctx.Done():
	}
	s.log.Info("shutting down: refusing new connections, letting in-flight requests finish", "timeout", s.opts.ShutdownTimeout)
	sctx, cancel := context.WithTimeout(context.Background(), s.opts.ShutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		return fmt.Errorf("server: graceful shutdown: %w", err)
	}
	if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("server: %w", err)
	}
	return nil
}
