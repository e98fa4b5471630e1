package auth

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/binary"
	"math"
	"time"
)

// TicketTTL is how long a stream ticket can open streams; an open stream
// lasts until Options.MaxStreamLife of package server.
const TicketTTL = time.Minute

// Token is the one token of AuthToken mode, which every client sends, and
// the stream tickets made from it: a ticket is an expiry signed with a key
// derived from the token, so a ticket made by one replica is good on every
// replica that shares the token file.
type Token struct {
	token     []byte
	ticketKey []byte
	now       func() time.Time
}

// NewToken makes the Token of token.
func NewToken(token string) *Token {
	mac := hmac.New(sha256.New, []byte(token))
	mac.Write([]byte("deploywatch stream ticket key"))
	return &Token{
		token:     []byte(token),
		ticketKey: mac.Sum(nil),
		now:       time.Now,
	}
}

// Matches reports whether token is the token, in constant time.
func (a *Token) Matches(token string) bool {
	return subtle.ConstantTimeCompare([]byte(token), a.token) == 1
}

// Ticket makes a stream ticket: the expiry and its signature.
func (a *Token) Ticket() (string, time.Time) {
	exp := a.now().Add(TicketTTL).Truncate(time.Second)
	var b [8 + sha256.Size]byte
	binary.BigEndian.PutUint64(b[:8], uint64(exp.Unix()))
	copy(b[8:], a.sign(b[:8]))
	return base64.RawURLEncoding.EncodeToString(b[:]), exp
}

func (a *Token) sign(exp []byte) []byte {
	mac := hmac.New(sha256.New, a.ticketKey)
	mac.Write(exp)
	return mac.Sum(nil)
}

// ValidTicket reports whether t is a ticket of this token, not expired.
func (a *Token) ValidTicket(t string) bool {
	b, err := base64.RawURLEncoding.DecodeString(t)
	if err != nil || len(b) != 8+sha256.Size {
		return false
	}
	if !hmac.Equal(b[8:], a.sign(b[:8])) {
		return false
	}
	exp := binary.BigEndian.Uint64(b[:8])
	return exp <= math.MaxInt64 && a.now().Before(time.Unix(int64(exp), 0))
}
