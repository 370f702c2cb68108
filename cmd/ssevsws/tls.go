package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"fmt"
	"math/big"
	"net"
	"time"
)

// tlsConfig returns the TLS configuration for -tls: the given certificate
// and key, or a fresh self-signed certificate for localhost. It offers
// HTTP/2 first, which is the point of the flag: over HTTP/2 every
// EventSource of a page shares one connection, and the browser's limit of
// six HTTP/1.1 connections per origin no longer applies.
//
// WebSocket still upgrades over HTTP/1.1: browsers open a separate
// connection for it, because this server does not offer WebSocket over
// HTTP/2 (RFC 8441).
func tlsConfig(certFile, keyFile string) (cfg *tls.Config, selfSigned bool, err error) {
	var cert tls.Certificate
	if certFile != "" || keyFile != "" {
		if certFile == "" || keyFile == "" {
			return nil, false, fmt.Errorf("-cert and -key go together")
		}
		cert, err = tls.LoadX509KeyPair(certFile, keyFile)
		if err != nil {
			return nil, false, fmt.Errorf("loading -cert/-key: %w", err)
		}
	} else {
		cert, err = selfSignedLocalhost(time.Now())
		if err != nil {
			return nil, false, err
		}
		selfSigned = true
	}
	return &tls.Config{
		Certificates: []tls.Certificate{cert},
		NextProtos:   []string{"h2", "http/1.1"},
		MinVersion:   tls.VersionTLS12,
	}, selfSigned, nil
}

// selfSignedLocalhost makes a certificate for localhost, 127.0.0.1 and ::1,
// valid for a week from now. Browsers warn about it once; that is the price
// of HTTP/2 on a laptop without a real certificate.
func selfSignedLocalhost(now time.Time) (tls.Certificate, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, err
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 120))
	if err != nil {
		return tls.Certificate{}, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: "localhost", Organization: []string{"ssevsws self-signed"}},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(7 * 24 * time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		DNSNames:              []string{"localhost"},
		IPAddresses:           []net.IP{net.ParseIP("127.0.0.1"), net.IPv6loopback},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return tls.Certificate{}, err
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, nil
}
