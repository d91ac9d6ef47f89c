package storage

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"fmt"
	"strings"
	"time"

	gomysql "github.com/go-sql-driver/mysql"
	"gorm.io/driver/mysql"
	"gorm.io/gorm"
)

// MySQL pool sizes: enough connections for two cores' worth of requests
// waiting on the network, all kept idle so that a burst does not reconnect.
const (
	mysqlMaxConns        = 32
	mysqlConnMaxLifetime = 30 * time.Minute
)

// mysqlSessionSetup runs on every new connection. READ COMMITTED: a
// conditional UPDATE sees the latest committed row and takes no gap locks, so
// concurrent refreshes and purges do not deadlock on ranges. sql_mode rejects
// zero and partial dates and truncation instead of silently storing them.
// time_zone keeps the server's own clock functions in UTC, like our columns.
var mysqlSessionSetup = []string{
	"SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED",
	"SET SESSION sql_mode = 'STRICT_ALL_TABLES,NO_ZERO_IN_DATE,NO_ZERO_DATE,ERROR_FOR_DIVISION_BY_ZERO,NO_ENGINE_SUBSTITUTION', SESSION time_zone = '+00:00'",
}

// mysqlConfig parses dsn and forces what the store depends on: parseTime
// (DATETIME columns scan into time.Time), loc=UTC (times are written and read
// as UTC whatever the server's zone) and a utf8mb4 connection.
func mysqlConfig(dsn string) (*gomysql.Config, error) {
	cfg, err := gomysql.ParseDSN(dsn)
	if err != nil {
		return nil, fmt.Errorf("storage: mysql dsn: %w", err)
	}
	if cfg.DBName == "" {
		return nil, fmt.Errorf("storage: mysql dsn: no database name (…/dbname)")
	}
	if i := strings.IndexByte(dsn, '?'); i >= 0 {
		for _, kv := range strings.Split(dsn[i+1:], "&") {
			if v, ok := strings.CutPrefix(kv, "charset="); ok && v != "utf8mb4" {
				return nil, fmt.Errorf("storage: mysql dsn: charset=%s: Latchkey needs utf8mb4", v)
			}
		}
	}
	if cfg.Collation != "" && !strings.HasPrefix(cfg.Collation, "utf8mb4_") {
		return nil, fmt.Errorf("storage: mysql dsn: collation=%s: Latchkey needs a utf8mb4 collation", cfg.Collation)
	}
	if cfg.Collation == "" {
		cfg.Collation = "utf8mb4_general_ci" // the connection's; every key column is utf8mb4_bin
	}
	cfg.ParseTime = true
	cfg.Loc = time.UTC
	return cfg, nil
}

func openMySQL(ctx context.Context, dsn string, config func() *gorm.Config) (*gorm.DB, error) {
	cfg, err := mysqlConfig(dsn)
	if err != nil {
		return nil, err
	}
	connector, err := gomysql.NewConnector(cfg)
	if err != nil {
		return nil, fmt.Errorf("storage: open mysql: %w", err)
	}
	sqlDB := sql.OpenDB(sessionConnector{Connector: connector, setup: mysqlSessionSetup})
	sqlDB.SetMaxOpenConns(mysqlMaxConns)
	sqlDB.SetMaxIdleConns(mysqlMaxConns)
	sqlDB.SetConnMaxLifetime(mysqlConnMaxLifetime)
	if err := sqlDB.PingContext(ctx); err != nil {
		_ = sqlDB.Close()
		return nil, fmt.Errorf("storage: open mysql: %w", err)
	}
	db, err := gorm.Open(mysql.New(mysql.Config{Conn: sqlDB, DSNConfig: cfg}), config())
	if err != nil {
		_ = sqlDB.Close()
		return nil, fmt.Errorf("storage: open mysql: %w", err)
	}
	return db, nil
}

// sessionConnector runs setup statements on each new connection, before the
// pool hands it out. Unlike DSN parameters it needs no knowledge of which
// variable names the server spells (tx_isolation on MariaDB < 11.1,
// transaction_isolation on MySQL 8).
type sessionConnector struct {
	driver.Connector
	setup []string
}

func (c sessionConnector) Connect(ctx context.Context) (driver.Conn, error) {
	conn, err := c.Connector.Connect(ctx)
	if err != nil {
		return nil, err
	}
	execer, ok := conn.(driver.ExecerContext)
	if !ok {
		_ = conn.Close()
		return nil, fmt.Errorf("storage: mysql connection cannot execute session setup")
	}
	for _, stmt := range c.setup {
		if _, err := execer.ExecContext(ctx, stmt, nil); err != nil {
			_ = conn.Close()
			return nil, fmt.Errorf("storage: mysql session setup %q: %w", stmt, err)
		}
	}
	return conn, nil
}
