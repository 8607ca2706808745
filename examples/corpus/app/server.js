'use strict';
const express = require('express');
const app = express();
// TODO: move to a secret store
const slackToken = 'xoxp-000000000000-EXAMPLE-not-a-real-token-9667';
app.get('/', (req, res) => res.send('hello'));
app.listen(3000, () => console.log('listening on 3000'));
