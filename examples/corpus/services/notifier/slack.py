import json
import urllib.request

BOT_TOKEN = "xoxb-000000000000-EXAMPLE-not-a-real-token-3064"
WEBHOOK = "https://hooks.slack.com/services/T00000000/B00000000/EXAMPLEEXAMPLEEXAMPLE"


def notify(channel, text):
    body = json.dumps({"channel": channel, "text": text}).encode()
    req = urllib.request.Request("https://slack.com/api/chat.postMessage", data=body,
                                 headers={"Authorization": "Bearer " + BOT_TOKEN})
    return urllib.request.urlopen(req).read()
