{
  "users": [
    {"name": "@@USERNAME@@", "password": "@@PASSWORD@@", "tags": ["administrator"]}
  ],
  "vhosts": [{"name": "/"}],
  "permissions": [
    {"user": "@@USERNAME@@", "vhost": "/", "configure": ".*", "write": ".*", "read": ".*"}
  ],
  "exchanges": [
    {"name": "user_login_event", "vhost": "/", "type": "fanout", "durable": true, "auto_delete": false,
     "internal": false, "arguments": {}},
    {"name": "user_login_event.dlx", "vhost": "/", "type": "fanout", "durable": true, "auto_delete": false,
     "internal": false, "arguments": {}}
  ],
  "queues": [
    {"name": "login_email_notification", "vhost": "/", "durable": true, "auto_delete": false,
     "arguments": {"x-queue-type": "quorum", "x-delivery-limit": @@DELIVERY_LIMIT@@,
                   "x-dead-letter-exchange": "user_login_event.dlx"}},
    {"name": "login_email_notification.dlq", "vhost": "/", "durable": true, "auto_delete": false,
     "arguments": {"x-queue-type": "quorum"}}
  ],
  "bindings": [
    {"source": "user_login_event", "vhost": "/", "destination": "login_email_notification",
     "destination_type": "queue", "routing_key": "", "arguments": {}},
    {"source": "user_login_event.dlx", "vhost": "/", "destination": "login_email_notification.dlq",
     "destination_type": "queue", "routing_key": "", "arguments": {}}
  ]
}
