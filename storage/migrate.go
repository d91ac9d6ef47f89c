package storage

import (
	"context"
	"database/sql"
	"fmt"
)

// migration is one step of the schema, written per dialect: MySQL needs
// utf8mb4_bin on every key column and DATETIME(6), SQLite needs the DATETIME
// type name for its driver to read times back. Steps are append-only: never
// edit one that has shipped, add the next version.
type migration struct {
	version int
	name    string
	sqlite  []string
	mysql   []string
	// mysqlAddColumns run after mysql: columns added to existing tables.
	mysqlAddColumns []addColumn
}

// addColumn is a column a migration adds to an existing table on MySQL,
// where ALTER TABLE … ADD COLUMN has no IF NOT EXISTS (MariaDB has one,
// MySQL 8 does not): apply adds it only when information_schema does not
// list it yet, so that a migration that stopped half-way runs again.
type addColumn struct {
	table, column, definition string // constants of this file, never input
}

// mysqlTable is the table options of every MySQL table: InnoDB, utf8mb4, and
// binary comparison by default; key columns also say utf8mb4_bin themselves.
const mysqlTable = " ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin"

// tokenColumns returns the shared column list of the token-session tables.
func tokenColumns(bin, datetime, longText string) string {
	return `
	signature          VARCHAR(64)` + bin + ` NOT NULL PRIMARY KEY,
	request_id         VARCHAR(255)` + bin + ` NOT NULL,
	client_id          VARCHAR(255)` + bin + ` NOT NULL,
	subject            VARCHAR(255)` + bin + ` NOT NULL,
	requested_at       ` + datetime + ` NULL,
	expires_at         ` + datetime + ` NULL,
	scopes             TEXT NOT NULL,
	granted_scopes     TEXT NOT NULL,
	requested_audience TEXT NOT NULL,
	granted_audience   TEXT NOT NULL,
	form               TEXT NOT NULL,
	session_data       ` + longText + ` NOT NULL,
	active             BOOLEAN NOT NULL`
}

const (
	sqliteBin  = ""
	mysqlBin   = " CHARACTER SET utf8mb4 COLLATE utf8mb4_bin"
	sqliteTime = "DATETIME"
	mysqlTime  = "DATETIME(6)"
)

var migrations = []migration{
	{
		version: 1,
		name:    "token sessions and used ids",
		sqlite: []string{
			`CREATE TABLE access_tokens (` + tokenColumns(sqliteBin, sqliteTime, "TEXT") + `)`,
			`CREATE INDEX access_tokens_request_id ON access_tokens (request_id)`,
			`CREATE INDEX access_tokens_subject ON access_tokens (subject)`,
			`CREATE INDEX access_tokens_expires_at ON access_tokens (expires_at)`,
			`CREATE TABLE refresh_tokens (` + tokenColumns(sqliteBin, sqliteTime, "TEXT") + `,
	access_signature   VARCHAR(64) NOT NULL,
	used_at            DATETIME NULL)`,
			`CREATE INDEX refresh_tokens_request_id ON refresh_tokens (request_id)`,
			`CREATE INDEX refresh_tokens_subject ON refresh_tokens (subject)`,
			`CREATE INDEX refresh_tokens_expires_at ON refresh_tokens (expires_at)`,
			`CREATE TABLE used_ids (
	seq        INTEGER PRIMARY KEY,
	kind       VARCHAR(32) NOT NULL,
	issuer     VARCHAR(255) NOT NULL,
	id         VARCHAR(255) NOT NULL,
	expires_at DATETIME NOT NULL)`,
			`CREATE UNIQUE INDEX used_ids_kind_issuer_id ON used_ids (kind, issuer, id)`,
			`CREATE INDEX used_ids_expires_at ON used_ids (expires_at)`,
		},
		mysql: []string{
			`CREATE TABLE IF NOT EXISTS access_tokens (` + tokenColumns(mysqlBin, mysqlTime, "MEDIUMTEXT") + `,
	KEY access_tokens_request_id (request_id),
	KEY access_tokens_subject (subject),
	KEY access_tokens_expires_at (expires_at))` + mysqlTable,
			`CREATE TABLE IF NOT EXISTS refresh_tokens (` + tokenColumns(mysqlBin, mysqlTime, "MEDIUMTEXT") + `,
	access_signature   VARCHAR(64)` + mysqlBin + ` NOT NULL,
	used_at            DATETIME(6) NULL,
	KEY refresh_tokens_request_id (request_id),
	KEY refresh_tokens_subject (subject),
	KEY refresh_tokens_expires_at (expires_at))` + mysqlTable,
			`CREATE TABLE IF NOT EXISTS used_ids (
	seq        BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
	kind       VARCHAR(32)` + mysqlBin + ` NOT NULL,
	issuer     VARCHAR(255)` + mysqlBin + ` NOT NULL,
	id         VARCHAR(255)` + mysqlBin + ` NOT NULL,
	expires_at DATETIME(6) NOT NULL,
	UNIQUE KEY used_ids_kind_issuer_id (kind, issuer, id),
	KEY used_ids_expires_at (expires_at))` + mysqlTable,
		},
	},
	{
		version: 2,
		name:    "users and login lockout",
		sqlite: []string{
			`CREATE TABLE users (` + userColumns(sqliteBin, sqliteTime) + `)`,
			`CREATE UNIQUE INDEX users_username_norm ON users (realm, username_norm)`,
			`CREATE UNIQUE INDEX users_email_norm ON users (realm, email_norm)`,
			`CREATE UNIQUE INDEX users_arbitrary_id ON users (environment_guid, arbitrary_id)`,
			`CREATE INDEX users_realm_created_at ON users (realm, created_at)`,
			`CREATE TABLE login_attempts (
	realm      VARCHAR(255) NOT NULL,
	login      VARCHAR(255) NOT NULL,
	failures   INTEGER NOT NULL,
	expires_at DATETIME NOT NULL,
	PRIMARY KEY (realm, login))`,
			`CREATE INDEX login_attempts_expires_at ON login_attempts (expires_at)`,
		},
		mysql: []string{
			`CREATE TABLE IF NOT EXISTS users (` + userColumns(mysqlBin, mysqlTime) + `,
	UNIQUE KEY users_username_norm (realm, username_norm),
	UNIQUE KEY users_email_norm (realm, email_norm),
	UNIQUE KEY users_arbitrary_id (environment_guid, arbitrary_id),
	KEY users_realm_created_at (realm, created_at))` + mysqlTable,
			// The key is the primary key (clustered on InnoDB): the upserts
			// of the lockout lock one index record, and do not deadlock as
			// they do on a secondary unique index.
			`CREATE TABLE IF NOT EXISTS login_attempts (
	realm      VARCHAR(255)` + mysqlBin + ` NOT NULL,
	login      VARCHAR(255)` + mysqlBin + ` NOT NULL,
	failures   INT NOT NULL,
	expires_at DATETIME(6) NOT NULL,
	PRIMARY KEY (realm, login),
	KEY login_attempts_expires_at (expires_at))` + mysqlTable,
		},
	},
	{
		version: 3,
		name:    "signup tokens",
		sqlite: []string{
			`CREATE TABLE signup_tokens (` + signupTokenColumns(sqliteBin, sqliteTime) + `)`,
			`CREATE INDEX signup_tokens_username_norm ON signup_tokens (realm, username_norm)`,
			`CREATE INDEX signup_tokens_expires_at ON signup_tokens (expires_at)`,
		},
		mysql: []string{
			`CREATE TABLE IF NOT EXISTS signup_tokens (` + signupTokenColumns(mysqlBin, mysqlTime) + `,
	KEY signup_tokens_username_norm (realm, username_norm),
	KEY signup_tokens_expires_at (expires_at))` + mysqlTable,
		},
	},
	{
		version: 4,
		name:    "credentials and one-time codes",
		sqlite: []string{
			`CREATE TABLE credentials (` + credentialColumns(sqliteBin, sqliteTime) + `)`,
			`CREATE INDEX credentials_user ON credentials (realm, user_id, created_at)`,
			`CREATE TABLE one_time_codes (` + oneTimeCodeColumns(sqliteBin, sqliteTime) + `)`,
			`CREATE INDEX one_time_codes_user ON one_time_codes (realm, user_id, purpose)`,
			`CREATE INDEX one_time_codes_expires_at ON one_time_codes (expires_at)`,
		},
		mysql: []string{
			`CREATE TABLE IF NOT EXISTS credentials (` + credentialColumns(mysqlBin, mysqlTime) + `,
	KEY credentials_user (realm, user_id, created_at))` + mysqlTable,
			`CREATE TABLE IF NOT EXISTS one_time_codes (` + oneTimeCodeColumns(mysqlBin, mysqlTime) + `,
	KEY one_time_codes_user (realm, user_id, purpose),
	KEY one_time_codes_expires_at (expires_at))` + mysqlTable,
		},
	},
	{
		version: 5,
		name:    "authorization codes",
		sqlite: []string{
			`CREATE TABLE authorization_codes (` + tokenColumns(sqliteBin, sqliteTime, "TEXT") + `)`,
			`CREATE INDEX authorization_codes_request_id ON authorization_codes (request_id)`,
			`CREATE INDEX authorization_codes_expires_at ON authorization_codes (expires_at)`,
		},
		mysql: []string{
			`CREATE TABLE IF NOT EXISTS authorization_codes (` + tokenColumns(mysqlBin, mysqlTime, "MEDIUMTEXT") + `,
	KEY authorization_codes_request_id (request_id),
	KEY authorization_codes_expires_at (expires_at))` + mysqlTable,
		},
	},
	{
		version: 6,
		name:    "login requests and browser sessions",
		sqlite: []string{
			`CREATE TABLE login_requests (` + loginRequestColumns(sqliteBin, sqliteTime) + `)`,
			`CREATE INDEX login_requests_expires_at ON login_requests (expires_at)`,
			`CREATE TABLE browser_sessions (` + browserSessionColumns(sqliteBin, sqliteTime) + `)`,
			`CREATE INDEX browser_sessions_user ON browser_sessions (realm, user_id)`,
			`CREATE INDEX browser_sessions_expires_at ON browser_sessions (expires_at)`,
		},
		mysql: []string{
			`CREATE TABLE IF NOT EXISTS login_requests (` + loginRequestColumns(mysqlBin, mysqlTime) + `,
	KEY login_requests_expires_at (expires_at))` + mysqlTable,
			`CREATE TABLE IF NOT EXISTS browser_sessions (` + browserSessionColumns(mysqlBin, mysqlTime) + `,
	KEY browser_sessions_user (realm, user_id),
	KEY browser_sessions_expires_at (expires_at))` + mysqlTable,
		},
	},
	{
		version: 7,
		name:    "consents and session grants",
		sqlite: []string{
			`CREATE TABLE consents (` + consentColumns(sqliteBin, sqliteTime) + `)`,
			`CREATE TABLE session_grants (` + sessionGrantColumns(sqliteBin, sqliteTime) + `)`,
			`CREATE INDEX session_grants_expires_at ON session_grants (expires_at)`,
		},
		mysql: []string{
			`CREATE TABLE IF NOT EXISTS consents (` + consentColumns(mysqlBin, mysqlTime) + `)` + mysqlTable,
			`CREATE TABLE IF NOT EXISTS session_grants (` + sessionGrantColumns(mysqlBin, mysqlTime) + `,
	KEY session_grants_expires_at (expires_at))` + mysqlTable,
		},
	},
	{
		version: 8,
		name:    "passkeys",
		sqlite: []string{
			`CREATE TABLE passkeys (` + passkeyColumns(sqliteBin, sqliteTime, "BLOB", "BLOB", "BLOB", "INTEGER") + `)`,
			`CREATE UNIQUE INDEX passkeys_credential_id ON passkeys (realm, credential_id)`,
			`CREATE INDEX passkeys_user ON passkeys (realm, user_id)`,
			`CREATE TABLE webauthn_ceremonies (` + ceremonyColumns(sqliteBin, sqliteTime, "BLOB") + `)`,
			`CREATE INDEX webauthn_ceremonies_user ON webauthn_ceremonies (realm, user_id)`,
			`CREATE INDEX webauthn_ceremonies_expires_at ON webauthn_ceremonies (expires_at)`,
			`CREATE TABLE passkey_transactions (` + passkeyTxColumns(sqliteBin, sqliteTime) + `)`,
			`CREATE INDEX passkey_transactions_user ON passkey_transactions (realm, user_id)`,
			`CREATE INDEX passkey_transactions_expires_at ON passkey_transactions (expires_at)`,
			`ALTER TABLE browser_sessions ADD COLUMN amr ` + amrColumn(sqliteBin),
		},
		mysql: []string{
			// credential_id is the raw bytes, compared byte for byte with
			// no padding: (realm, credential_id) is at most 255×4 + 1023
			// bytes, within InnoDB's 3072-byte key limit.
			`CREATE TABLE IF NOT EXISTS passkeys (` + passkeyColumns(mysqlBin, mysqlTime, "VARBINARY(1023)", "BLOB", "VARBINARY(16)", "INT UNSIGNED") + `,
	UNIQUE KEY passkeys_credential_id (realm, credential_id),
	KEY passkeys_user (realm, user_id))` + mysqlTable,
			`CREATE TABLE IF NOT EXISTS webauthn_ceremonies (` + ceremonyColumns(mysqlBin, mysqlTime, "MEDIUMBLOB") + `,
	KEY webauthn_ceremonies_user (realm, user_id),
	KEY webauthn_ceremonies_expires_at (expires_at))` + mysqlTable,
			`CREATE TABLE IF NOT EXISTS passkey_transactions (` + passkeyTxColumns(mysqlBin, mysqlTime) + `,
	KEY passkey_transactions_user (realm, user_id),
	KEY passkey_transactions_expires_at (expires_at))` + mysqlTable,
		},
		mysqlAddColumns: []addColumn{{"browser_sessions", "amr", amrColumn(mysqlBin)}},
	},
	{
		version: 9,
		name:    "instance secrets",
		sqlite:  []string{`CREATE TABLE instance_secrets (` + instanceSecretColumns(sqliteBin, sqliteTime, "BLOB") + `)`},
		mysql:   []string{`CREATE TABLE IF NOT EXISTS instance_secrets (` + instanceSecretColumns(mysqlBin, mysqlTime, "VARBINARY(64)") + `)` + mysqlTable},
	},
	{
		version: 10,
		name:    "revoked tokens",
		sqlite: []string{
			`CREATE TABLE revoked_tokens (` + revokedTokenColumns(sqliteBin, sqliteTime) + `)`,
			`CREATE INDEX revoked_tokens_expires_at ON revoked_tokens (expires_at)`,
		},
		mysql: []string{`CREATE TABLE IF NOT EXISTS revoked_tokens (` + revokedTokenColumns(mysqlBin, mysqlTime) + `,
	KEY revoked_tokens_expires_at (expires_at))` + mysqlTable},
	},
}

// mysqlMigrateLock names the advisory lock that keeps replicas starting
// together from migrating at the same time.
const mysqlMigrateLock = "latchkey_migrate"

// Migrate brings the schema up to date, applying in order the migrations not
// yet recorded in schema_migrations. On SQLite each migration is one
// transaction; on MySQL (whose DDL is not transactional) the statements are
// idempotent and an advisory lock serialises concurrent Migrate calls from
// several replicas. A database newer than this binary is left as it is.
func (s *Store) Migrate(ctx context.Context) error {
	sqlDB, err := s.write.DB()
	if err != nil {
		return fmt.Errorf("storage: migrate: %w", err)
	}
	conn, err := sqlDB.Conn(ctx)
	if err != nil {
		return fmt.Errorf("storage: migrate: %w", err)
	}
	defer conn.Close()

	if s.driver == DriverMySQL {
		var got sql.NullInt64
		if err := conn.QueryRowContext(ctx, "SELECT GET_LOCK(?, 60)", mysqlMigrateLock).Scan(&got); err != nil {
			return fmt.Errorf("storage: migrate: lock: %w", err)
		}
		if !got.Valid || got.Int64 != 1 {
			return fmt.Errorf("storage: migrate: another process holds the migration lock")
		}
		defer conn.ExecContext(context.WithoutCancel(ctx), "DO RELEASE_LOCK(?)", mysqlMigrateLock) //nolint:errcheck // released with the connection anyway
	}

	createTable := `CREATE TABLE IF NOT EXISTS schema_migrations (
	version    INTEGER NOT NULL PRIMARY KEY,
	name       VARCHAR(255) NOT NULL,
	applied_at DATETIME NOT NULL)`
	if s.driver == DriverMySQL {
		createTable = `CREATE TABLE IF NOT EXISTS schema_migrations (
	version    INT NOT NULL PRIMARY KEY,
	name       VARCHAR(255) NOT NULL,
	applied_at DATETIME(6) NOT NULL)` + mysqlTable
	}
	if _, err := conn.ExecContext(ctx, createTable); err != nil {
		return fmt.Errorf("storage: migrate: %w", err)
	}

	applied := map[int]bool{}
	rows, err := conn.QueryContext(ctx, "SELECT version FROM schema_migrations")
	if err != nil {
		return fmt.Errorf("storage: migrate: %w", err)
	}
	latest := 0
	for rows.Next() {
		var v int
		if err := rows.Scan(&v); err != nil {
			rows.Close()
			return fmt.Errorf("storage: migrate: %w", err)
		}
		applied[v] = true
		latest = max(latest, v)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return fmt.Errorf("storage: migrate: %w", err)
	}
	if known := migrations[len(migrations)-1].version; latest > known {
		s.log.WarnContext(ctx, "storage: database schema is newer than this binary", "database", latest, "binary", known)
	}

	for _, m := range migrations {
		if applied[m.version] {
			continue
		}
		if err := s.apply(ctx, conn, m); err != nil {
			return fmt.Errorf("storage: migrate %d (%s): %w", m.version, m.name, err)
		}
		s.log.InfoContext(ctx, "storage: applied migration", "version", m.version, "name", m.name)
	}
	return nil
}

func (s *Store) apply(ctx context.Context, conn *sql.Conn, m migration) error {
	record := func(e interface {
		ExecContext(context.Context, string, ...any) (sql.Result, error)
	}) error {
		_, err := e.ExecContext(ctx, "INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)",
			m.version, m.name, clampTime(s.now()))
		return err
	}
	if s.driver == DriverMySQL {
		for _, stmt := range m.mysql {
			if _, err := conn.ExecContext(ctx, stmt); err != nil {
				return err
			}
		}
		for _, c := range m.mysqlAddColumns {
			var n int
			if err := conn.QueryRowContext(ctx, "SELECT COUNT(*) FROM information_schema.COLUMNS "+
				"WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ? AND COLUMN_NAME = ?", c.table, c.column).Scan(&n); err != nil {
				return err
			}
			if n > 0 {
				continue
			}
			if _, err := conn.ExecContext(ctx, "ALTER TABLE "+c.table+" ADD COLUMN "+c.column+" "+c.definition); err != nil {
				return err
			}
		}
		return record(conn)
	}
	tx, err := conn.BeginTx(ctx, nil) // BEGIN IMMEDIATE on the write pool
	if err != nil {
		return err
	}
	defer tx.Rollback() //nolint:errcheck // a no-op after Commit
	// Another process may have applied it since we looked: the IMMEDIATE
	// transaction holds the write lock, so this second look is final.
	var done int
	if err := tx.QueryRowContext(ctx, "SELECT COUNT(*) FROM schema_migrations WHERE version = ?", m.version).Scan(&done); err != nil {
		return err
	}
	if done > 0 {
		return nil
	}
	for _, stmt := range m.sqlite {
		if _, err := tx.ExecContext(ctx, stmt); err != nil {
			return err
		}
	}
	if err := record(tx); err != nil {
		return err
	}
	return tx.Commit()
}
