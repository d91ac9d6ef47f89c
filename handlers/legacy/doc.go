// Package legacy reproduces the 2015 REST API that old mobile and web
// clients were written against: sign up (POST /users), log in (POST
// /users/token), refresh (POST /users/token/refresh), log out (DELETE
// /users/token) and change the profile (PATCH /users), with
// "Authorization: Basic base64(key:token)" on the routes that act for a
// logged-in user.
//
// Each route is a translation onto the core: login is the one password
// check (by e-mail) and an issuance as the named legacy client, refresh is
// the refresh grant's rules (rotation, reuse detection), logout revokes the
// grant. key is the grant's id (stable across refreshes), token the access
// token, refresh the refresh token. The package mints, stores and checks
// no token itself.
package legacy
