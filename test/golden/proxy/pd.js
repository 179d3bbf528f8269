// omni-deploy global proxy: prefill then decode, like omniinfer's prefill module.
// Generated with nginx.conf; changes here are overwritten on the next deploy.

function fail(r, status, message) {
  r.headersOut['Content-Type'] = 'application/json';
  r.return(status, JSON.stringify({ error: { message: message, type: 'proxy_error', code: status } }) + '\n');
}

function prefillBody(request) {
  request.max_tokens = 1;
  request.stream = false;
  delete request.stream_options;
  return JSON.stringify(request);
}

// The decode server gets the client's body byte for byte (numbers, key order, escapes), with
// kv_transfer_params spliced in as the last key: a JSON parser that keeps the last of duplicate
// keys (Python's) then sees ours even if the client sent one.
function decodeBody(original, isEmptyObject, kvTransferParams) {
  const end = original.lastIndexOf('}');
  const separator = isEmptyObject ? '' : ',';
  return original.slice(0, end) + separator + '"kv_transfer_params":' + JSON.stringify(kvTransferParams) + original.slice(end);
}

function parseObject(text) {
  try {
    const value = JSON.parse(text);
    return value !== null && typeof value === 'object' && !Array.isArray(value) ? value : null;
  } catch (e) {
    return null;
  }
}

function completions(r) {
  let original;
  try {
    original = r.requestText;
  } catch (e) {
    return fail(r, 413, 'request body too large for the proxy buffer');
  }
  const request = parseObject(original);
  if (request === null) return fail(r, 400, 'request body must be a JSON object');
  const isEmptyObject = Object.keys(request).length === 0;
  const args = r.variables.args || '';

  r.subrequest('/_pd_prefill' + r.uri, { method: 'POST', args: args, body: prefillBody(request) })
    .then(function (reply) {
      if (reply.status >= 300) {
        r.headersOut['Content-Type'] = reply.headersOut['Content-Type'] || 'application/json';
        r.return(reply.status, reply.responseText);
        return;
      }
      const answer = parseObject(reply.responseText);
      if (answer === null || answer.kv_transfer_params === undefined) {
        r.error('prefill answered ' + reply.status + ' without kv_transfer_params');
        return fail(r, 502, 'the prefill server answered without kv_transfer_params');
      }
      r.variables.pd_decode_body = decodeBody(original, isEmptyObject, answer.kv_transfer_params);
      r.internalRedirect('/_pd_decode' + r.uri + (args ? '?' + args : ''));
    })
    .catch(function (e) {
      r.error('prefill subrequest failed: ' + e);
      fail(r, 502, 'prefill subrequest failed');
    });
}

function words(text) {
  return text ? text.split(' ') : [];
}

// One upstream's own /health through the internal probe location (short timeouts there): 200 is
// healthy, anything else (its error, nginx's 502 for a refused connection, 504 for a timeout) not.
function probe(r, role, index) {
  return r.subrequest('/_pd_probe/' + role + '_' + index, { method: 'GET' }).then(
    function (reply) {
      return reply.status === 200;
    },
    function () {
      return false;
    }
  );
}

// ok: every upstream answers and none is drained; degraded: at least one prefill and one decode
// answer; down (503): no prefill or no decode answers, so no completion can succeed.
function health(r) {
  if (r.method !== 'GET' && r.method !== 'HEAD') return fail(r, 405, 'use GET /health');
  const roles = ['prefill', 'decode'];
  const report = {};
  const probes = [];
  roles.forEach(function (role) {
    report[role] = { healthy: [], unhealthy: [], drained: words(r.variables['pd_health_' + role + '_drained']) };
    words(r.variables['pd_health_' + role]).forEach(function (address, index) {
      probes.push(
        probe(r, role, index).then(function (healthy) {
          return { role: role, address: address, healthy: healthy };
        })
      );
    });
  });
  Promise.all(probes).then(function (results) {
    results.forEach(function (p) {
      report[p.role][p.healthy ? 'healthy' : 'unhealthy'].push(p.address);
    });
    let status = 'ok';
    roles.forEach(function (role) {
      if (report[role].unhealthy.length > 0 || report[role].drained.length > 0) status = 'degraded';
    });
    roles.forEach(function (role) {
      if (report[role].healthy.length === 0) status = 'down';
    });
    r.headersOut['Content-Type'] = 'application/json';
    r.headersOut['Cache-Control'] = 'no-store';
    r.return(
      status === 'down' ? 503 : 200,
      JSON.stringify({ status: status, prefill: report.prefill, decode: report.decode }) + '\n'
    );
  });
}

export default { completions: completions, health: health };
