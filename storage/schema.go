package storage

// The column lists of the tables, per dialect: bin is the binary collation
// of key columns, datetime the time type (see migrate.go).

// passkeyColumns returns the column list of passkeys: the WebAuthn part of
// a fido2 credential, under the credential's uuid. The byte columns' types
// differ per dialect (credID, blob, aaguid) and so does the unsigned 32-bit
// counter's (counter).
func passkeyColumns(bin, datetime, credID, blob, aaguid, counter string) string {
	return `
	uuid               VARCHAR(36)` + bin + ` NOT NULL PRIMARY KEY,
	realm              VARCHAR(255)` + bin + ` NOT NULL,
	user_id            VARCHAR(64)` + bin + ` NOT NULL,
	credential_id      ` + credID + ` NOT NULL,
	public_key         ` + blob + ` NOT NULL,
	sign_count         ` + counter + ` NOT NULL,
	transports         VARCHAR(255)` + bin + ` NOT NULL,
	backup_eligible    BOOLEAN NOT NULL,
	backup_state       BOOLEAN NOT NULL,
	user_verified      BOOLEAN NOT NULL,
	aaguid             ` + aaguid + ` NOT NULL,
	attestation_type   VARCHAR(64)` + bin + ` NOT NULL,
	attestation_format VARCHAR(64)` + bin + ` NOT NULL,
	last_used_at       ` + datetime + ` NULL`
}

// ceremonyColumns returns the column list of webauthn_ceremonies: a started
// registration or login, keyed by the hex SHA-256 of its challenge, with the
// library's session data (data, up to 64 KiB) until it is taken or expires.
func ceremonyColumns(bin, datetime, blob string) string {
	return `
	id              VARCHAR(64)` + bin + ` NOT NULL PRIMARY KEY,
	realm           VARCHAR(255)` + bin + ` NOT NULL,
	user_id         VARCHAR(64)` + bin + ` NOT NULL,
	username        VARCHAR(255)` + bin + ` NOT NULL,
	purpose         VARCHAR(32)` + bin + ` NOT NULL,
	credential_uuid VARCHAR(36)` + bin + ` NOT NULL,
	data            ` + blob + ` NOT NULL,
	expires_at      ` + datetime + ` NOT NULL`
}

// passkeyTxColumns returns the column list of passkey_transactions: a
// transaction a user confirms with a passkey, pending until completed
// once. payload holds up to 16 KiB of UTF-8 (TEXT: 64 KiB on MySQL).
func passkeyTxColumns(bin, datetime string) string {
	return `
	id           VARCHAR(64)` + bin + ` NOT NULL PRIMARY KEY,
	realm        VARCHAR(255)` + bin + ` NOT NULL,
	user_id      VARCHAR(64)` + bin + ` NOT NULL,
	username     VARCHAR(255)` + bin + ` NOT NULL,
	type         VARCHAR(16)` + bin + ` NOT NULL,
	payload      TEXT NOT NULL,
	nonce        VARCHAR(255)` + bin + ` NOT NULL,
	status       VARCHAR(16)` + bin + ` NOT NULL,
	created_at   ` + datetime + ` NOT NULL,
	completed_at ` + datetime + ` NULL,
	expires_at   ` + datetime + ` NOT NULL`
}

// amrColumn is browser_sessions.amr: the session's authentication methods,
// space-separated RFC 8176 values; sessions from before it have none.
func amrColumn(bin string) string {
	return `VARCHAR(64)` + bin + ` NOT NULL DEFAULT ''`
}

// credentialColumns returns the column list of credentials: the ways a
// user logs in (a password, later passkeys), each with a uuid, a name and
// a status. A password's secret stays in users.password_hash; its row here
// carries what a person sees of it.
func credentialColumns(bin, datetime string) string {
	return `
	uuid       VARCHAR(36)` + bin + ` NOT NULL PRIMARY KEY,
	realm      VARCHAR(255)` + bin + ` NOT NULL,
	user_id    VARCHAR(64)` + bin + ` NOT NULL,
	type       VARCHAR(16)` + bin + ` NOT NULL,
	name       VARCHAR(255) NOT NULL,
	status     VARCHAR(16)` + bin + ` NOT NULL,
	created_at ` + datetime + ` NOT NULL,
	updated_at ` + datetime + ` NOT NULL`
}

// oneTimeCodeColumns returns the column list of one_time_codes: short-lived
// codes for a user and a purpose, stored only as a SHA-256 of the code
// salted with the row's id, with a count of failed attempts.
func oneTimeCodeColumns(bin, datetime string) string {
	return `
	id         VARCHAR(64)` + bin + ` NOT NULL PRIMARY KEY,
	realm      VARCHAR(255)` + bin + ` NOT NULL,
	user_id    VARCHAR(64)` + bin + ` NOT NULL,
	purpose    VARCHAR(32)` + bin + ` NOT NULL,
	code_hash  VARCHAR(64)` + bin + ` NOT NULL,
	authorized BOOLEAN NOT NULL,
	attempts   INTEGER NOT NULL,
	created_at ` + datetime + ` NOT NULL,
	expires_at ` + datetime + ` NOT NULL`
}

// signupTokenColumns returns the column list of signup_tokens: what a
// person typed while signing up, kept until it becomes a user or expires.
// As in users, every compared column is binary on MySQL (the id above all:
// utk_aB… and utk_Ab… are two tokens), and the username's norm is computed
// in Go. Several tokens may share a username: its index is not unique.
func signupTokenColumns(bin, datetime string) string {
	return `
	id              VARCHAR(64)` + bin + ` NOT NULL PRIMARY KEY,
	realm           VARCHAR(255)` + bin + ` NOT NULL,
	username        VARCHAR(255)` + bin + ` NOT NULL,
	username_norm   VARCHAR(255)` + bin + ` NOT NULL,
	email           VARCHAR(255)` + bin + ` NOT NULL,
	email_norm      VARCHAR(255)` + bin + ` NULL,
	first_name      VARCHAR(255) NOT NULL,
	last_name       VARCHAR(255) NOT NULL,
	credential_type VARCHAR(32)` + bin + ` NOT NULL,
	password_hash   VARCHAR(255)` + bin + ` NOT NULL,
	created_at      ` + datetime + ` NOT NULL,
	expires_at      ` + datetime + ` NOT NULL`
}

// userColumns returns the column list of users. Every column that is
// compared (ids, the realm, the *_norm columns, arbitrary_id, the password
// hash) is binary on MySQL: case-insensitive uniqueness comes from the
// norms, computed in Go, never from a collation. Empty norms, arbitrary ids
// and hashes are NULL, so they never collide in the unique keys.
func userColumns(bin, datetime string) string {
	return `
	id               VARCHAR(64)` + bin + ` NOT NULL PRIMARY KEY,
	realm            VARCHAR(255)` + bin + ` NOT NULL,
	username         VARCHAR(255)` + bin + ` NOT NULL,
	username_norm    VARCHAR(255)` + bin + ` NULL,
	email            VARCHAR(255)` + bin + ` NOT NULL,
	email_norm       VARCHAR(255)` + bin + ` NULL,
	arbitrary_id     VARCHAR(255)` + bin + ` NULL,
	environment_guid VARCHAR(255)` + bin + ` NULL,
	first_name       VARCHAR(255) NOT NULL,
	last_name        VARCHAR(255) NOT NULL,
	role             VARCHAR(64)` + bin + ` NOT NULL,
	status           VARCHAR(16)` + bin + ` NOT NULL,
	password_hash    VARCHAR(255)` + bin + ` NULL,
	created_at       ` + datetime + ` NOT NULL,
	updated_at       ` + datetime + ` NOT NULL`
}

// instanceSecretColumns returns the column list of instance_secrets:
// random values made once per database and shared by every replica.
func instanceSecretColumns(bin, datetime, blob string) string {
	return `
	name       VARCHAR(64)` + bin + ` NOT NULL PRIMARY KEY,
	value      ` + blob + ` NOT NULL,
	created_at ` + datetime + ` NOT NULL`
}

// revokedTokenColumns are the columns of revoked_tokens: the revoked tokens
// that have no row of their own (client_credentials JWTs), by the SHA-256
// of their jti, kept until the token would have expired.
func revokedTokenColumns(bin, datetime string) string {
	return `
	id_hash    VARCHAR(64)` + bin + ` NOT NULL PRIMARY KEY,
	expires_at ` + datetime + ` NOT NULL`
}
