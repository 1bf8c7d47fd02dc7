package pgkv

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
)

// A migration brings the schema from version-1 to version.
type migration struct {
	version int
	name    string
	sql     string
}

// migrations are the schema's versions, in order, each applied once; a
// new version is appended, never an old one changed.
var migrations = []migration{
	{1, "the key-value table", `CREATE TABLE strmlocal_kv (k bytea PRIMARY KEY, v bytea NOT NULL)`},
}

// migrationLock is the advisory lock (the two-int4 key space, apart from
// the bigint one of the batches' expectations) that serialises the
// migrations of gateways starting at once: 'stml', 1.
const migrationLockClass, migrationLockID = 0x73746d6c, 1

// SchemaVersion is the schema version this binary migrates to.
func SchemaVersion() int { return migrations[len(migrations)-1].version }

// migrate applies the migrations the database lacks, in one transaction
// under migrationLock, and refuses a schema newer than this binary's.
func (kv *KV) migrate(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, kv.opts.ConnectTimeout+2*kv.opts.Timeout)
	defer cancel()
	tx, err := kv.pool.BeginTx(ctx, pgx.TxOptions{})
	if err != nil {
		return kv.fail("migrating the schema", err)
	}
	defer func() { _ = tx.Rollback(context.Background()) }()
	if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1, $2)`, int32(migrationLockClass), int32(migrationLockID)); err != nil {
		return kv.fail("migrating the schema: taking the migration lock", err)
	}
	if _, err := tx.Exec(ctx, `CREATE TABLE IF NOT EXISTS strmlocal_migrations (
		version    int PRIMARY KEY,
		applied_at timestamptz NOT NULL DEFAULT now()
	)`); err != nil {
		return kv.fail("migrating the schema: creating strmlocal_migrations", err)
	}
	var current int
	if err := tx.QueryRow(ctx, `SELECT coalesce(max(version), 0) FROM strmlocal_migrations`).Scan(&current); err != nil {
		return kv.fail("migrating the schema: reading its version", err)
	}
	if latest := SchemaVersion(); current > latest {
		return fmt.Errorf("postgres state: the database's schema is at version %d, newer than this strmlocal knows (%d): upgrade strmlocal, or point it at another database", current, latest)
	}
	for _, m := range migrations {
		if m.version <= current {
			continue
		}
		if _, err := tx.Exec(ctx, m.sql); err != nil {
			return kv.fail(fmt.Sprintf("migrating the schema to version %d (%s)", m.version, m.name), err)
		}
		if _, err := tx.Exec(ctx, `INSERT INTO strmlocal_migrations (version, applied_at) VALUES ($1, now())`, m.version); err != nil {
			return kv.fail(fmt.Sprintf("migrating the schema to version %d (%s)", m.version, m.name), err)
		}
	}
	if err := tx.Commit(ctx); err != nil {
		return kv.fail("migrating the schema: committing", err)
	}
	return nil
}
