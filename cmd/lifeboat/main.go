// Command lifeboat keeps a verified standby copy of a Heroku app and its
// Postgres database on a VPS outside Heroku and AWS.
package main

import "os"

func main() {
	os.Exit(run())
}

func run() int { return 0 }
