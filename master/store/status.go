package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/crawlmaster/crawlmaster/master/frontier"
)

// MasterStatus is the heartbeat row of the leading master.
type MasterStatus struct {
	MasterID   string
	StartedAt  time.Time
	UpdatedAt  time.Time
	Assistants []frontier.AssistantStatus
	// APIAddr is where the leader serves its API, written to its row of
	// masters ("" when the API is off).
	APIAddr string
}

// WriteStatus records the leader's heartbeat.
func (s *Store) WriteStatus(ctx context.Context, st MasterStatus) error {
	js, err := json.Marshal(st.Assistants)
	if err != nil {
		return fmt.Errorf("encode status: %w", err)
	}
	// The leader's status is also its heartbeat in masters; a row there
	// still saying leader for another id is a leader that died (one that
	// lost the lock alive writes itself back as a standby).
	_, err = s.pool.Exec(ctx, `
WITH beat AS (
    INSERT INTO masters (id, role, started_at, updated_at, api_addr) VALUES ($1, 'leader', $2, now(), $4)
    ON CONFLICT (id) DO UPDATE SET role = 'leader', updated_at = EXCLUDED.updated_at, api_addr = EXCLUDED.api_addr
), stale AS (
    DELETE FROM masters WHERE role = 'leader' AND id <> $1
)
INSERT INTO master_status (id, master_id, started_at, updated_at, assistants)
VALUES (true, $1, $2, now(), $3)
ON CONFLICT (id) DO UPDATE SET master_id = EXCLUDED.master_id, started_at = EXCLUDED.started_at,
    updated_at = EXCLUDED.updated_at, assistants = EXCLUDED.assistants`, st.MasterID, st.StartedAt, js, st.APIAddr)
	if err != nil {
		return fmt.Errorf("write master status: %w", err)
	}
	return nil
}

// ReadStatus returns the last heartbeat, or ErrNoStatus.
func (s *Store) ReadStatus(ctx context.Context) (MasterStatus, error) {
	var st MasterStatus
	var js []byte
	err := s.pool.QueryRow(ctx, `SELECT master_id, started_at, updated_at, assistants FROM master_status`).
		Scan(&st.MasterID, &st.StartedAt, &st.UpdatedAt, &js)
	if errors.Is(err, pgx.ErrNoRows) {
		return st, ErrNoStatus
	}
	if err != nil {
		return st, fmt.Errorf("read master status: %w", err)
	}
	if err := json.Unmarshal(js, &st.Assistants); err != nil {
		return st, fmt.Errorf("decode master status: %w", err)
	}
	return st, nil
}

// MasterRole is a running master's role.
type MasterRole string

// Master roles.
const (
	RoleLeader  MasterRole = "leader"
	RoleStandby MasterRole = "standby"
)

// MasterBeat is one master's heartbeat.
type MasterBeat struct {
	ID        string
	Role      MasterRole
	StartedAt time.Time
	UpdatedAt time.Time
	// APIAddr is where the master serves its API; "" when unknown.
	APIAddr string
}

// Heartbeat records that master id runs in role, serving its API at
// apiAddr ("" when the API is off).
func (s *Store) Heartbeat(ctx context.Context, id string, role MasterRole, started time.Time, apiAddr string) error {
	_, err := s.pool.Exec(ctx, `
INSERT INTO masters (id, role, started_at, updated_at, api_addr) VALUES ($1, $2, $3, now(), $4)
ON CONFLICT (id) DO UPDATE SET role = EXCLUDED.role, updated_at = EXCLUDED.updated_at, api_addr = EXCLUDED.api_addr`,
		id, string(role), started, apiAddr)
	if err != nil {
		return fmt.Errorf("write heartbeat: %w", err)
	}
	return nil
}

// ForgetMaster removes master id's heartbeat, and the leader status it
// wrote, when it stops cleanly.
func (s *Store) ForgetMaster(ctx context.Context, id string) error {
	_, err := s.pool.Exec(ctx, `
WITH gone AS (DELETE FROM masters WHERE id = $1)
DELETE FROM master_status WHERE master_id = $1`, id)
	if err != nil {
		return fmt.Errorf("clear heartbeat: %w", err)
	}
	return nil
}

// Masters returns every master's heartbeat, leader first.
func (s *Store) Masters(ctx context.Context) ([]MasterBeat, error) {
	rows, err := s.pool.Query(ctx, `SELECT id, role, started_at, updated_at, api_addr FROM masters ORDER BY role <> 'leader', started_at`)
	if err != nil {
		return nil, fmt.Errorf("read heartbeats: %w", err)
	}
	var out []MasterBeat
	var b MasterBeat
	var role string
	_, err = pgx.ForEachRow(rows, []any{&b.ID, &role, &b.StartedAt, &b.UpdatedAt, &b.APIAddr}, func() error {
		b.Role = MasterRole(role)
		out = append(out, b)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read heartbeats: %w", err)
	}
	return out, nil
}
