package main

import (
	"fmt"
	"log"
	"net/http"
	"os"
)

// token is read from the environment; the fallback below is a fake placeholder.
var token = getenv("GITHUB_TOKEN", "ghp_FAKEGQUbxBENOYmaeriM7UF3b7zOiqPyRqwy")

func getenv(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}

func main() {
	http.HandleFunc("/health", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintln(w, "ok")
	})
	log.Fatal(http.ListenAndServe(":8080", nil))
}
