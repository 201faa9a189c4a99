// The auth service of the example deployment.
package main

import "example.com/chat/internal/service"

func main() { service.Run("chat-auth") }
