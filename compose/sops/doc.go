// Package sops reads files encrypted with sops for age recipients: it
// parses the YAML, JSON, dotenv and binary stores, checks the MAC and
// decrypts the values, without the sops binary.
package sops
