package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/latchkey/latchkey/config"
)

func newHealthcheckCmd() *cobra.Command {
	var addr string
	var timeout time.Duration
	cmd := &cobra.Command{
		Use:   "healthcheck [--address HOST:PORT]",
		Short: "Probe a running server's /readyz: exit 0 when it is ready",
		Long: `Send GET /readyz to a running server and exit 0 when it answers 200 (the
server is up and its database answers), 1 otherwise, with the reason on
stderr. For container health checks: the image runs it as its HEALTHCHECK.

The address defaults to LATCHKEY_LISTEN, else 127.0.0.1:8080; a wildcard host
(0.0.0.0, ::, or none as in :8080) is probed on 127.0.0.1.`,
		Example: `  latchkey healthcheck
  latchkey healthcheck --address 127.0.0.1:9090 --timeout 2s`,
		Args: exactArgs(0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if addr == "" {
				addr = config.DefaultListen
				if v := os.Getenv(config.EnvListen); v != "" {
					addr = v
				}
			}
			host, port, err := net.SplitHostPort(addr)
			if err != nil {
				return usage("--address %q: want host:port, like 127.0.0.1:8080", addr)
			}
			if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
				host = "127.0.0.1"
			}
			if timeout <= 0 {
				return usage("--timeout %v: want a positive duration, like 3s", timeout)
			}
			target := "http://" + net.JoinHostPort(host, port) + "/readyz"
			ctx, cancel := context.WithTimeout(cmd.Context(), timeout)
			defer cancel()
			req, err := http.NewRequestWithContext(ctx, http.MethodGet, target, nil)
			if err != nil {
				return usage("--address %q: %v", addr, err)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				return fmt.Errorf("%s: no answer (%v); is the server running there?", target, unwrapURLError(err))
			}
			defer resp.Body.Close()
			io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
			if resp.StatusCode != http.StatusOK {
				return fmt.Errorf("%s answered %s: the server is up but not ready (its log says why)", target, resp.Status)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s: ready\n", target)
			return nil
		},
	}
	cmd.Flags().StringVar(&addr, "address", "", "host:port of the server (default: LATCHKEY_LISTEN, else 127.0.0.1:8080)")
	cmd.Flags().DurationVar(&timeout, "timeout", 3*time.Second, "how long to wait for the answer")
	return cmd
}

// unwrapURLError drops net/http's `Get "URL": ` wrapping, which repeats the URL.
func unwrapURLError(err error) error {
	if ue, ok := err.(*url.Error); ok {
		return ue.Err
	}
	return err
}
