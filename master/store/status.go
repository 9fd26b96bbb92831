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
}

// WriteStatus records the leader's heartbeat.
func (s *Store) WriteStatus(ctx context.Context, st MasterStatus) error {
	js, err := json.Marshal(st.Assistants)
	if err != nil {
		return fmt.Errorf("encode status: %w", err)
	}
	_, err = s.pool.Exec(ctx, `
INSERT INTO master_status (id, master_id, started_at, updated_at, assistants)
VALUES (true, $1, $2, now(), $3)
ON CONFLICT (id) DO UPDATE SET master_id = EXCLUDED.master_id, started_at = EXCLUDED.started_at,
    updated_at = EXCLUDED.updated_at, assistants = EXCLUDED.assistants`, st.MasterID, st.StartedAt, js)
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
