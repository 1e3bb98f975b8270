// The function node's sandbox: what Node-RED gives a function body (node, context, flow,
// global, env, RED.util, timers, console) built on two calls the worker provides:
// __fe_emit(event JSON) and __fe_request(query JSON) -> answer JSON ("" for undefined).
// The worker calls in through the __fe_* entry points this script leaves on globalThis.
// Functions that call user code are named fe_*: stack traces are cut at the first of them.
(function (global) {
  "use strict";

  var emitRaw = global.__fe_emit;
  var requestRaw = global.__fe_request;
  var noteOutOfMemory = global.__fe_out_of_memory;
  delete global.__fe_emit;
  delete global.__fe_request;
  delete global.__fe_out_of_memory;

  var MARK = "\u0000b"; // a Buffer on the wire: {"\u0000b": base64}
  var has = Function.prototype.call.bind(Object.prototype.hasOwnProperty);
  var STACK_FRAMES = 10; // V8's Error.stackTraceLimit
  var info = { id: "", name: "", path: "", outputCount: 1, timeoutMs: 1000, memoryMiB: 64 };
  var state = "resolving"; // Node-RED's RESOLVING, RESOLVED, ERROR: messages wait for On Start
  var waiting = [];
  var body = null;
  var finalizer = null;
  var current = {}; // the message of the entry running now, for errors found by the worker
  var timers = new Map();
  var nextTimer = 1;
  var closeHandlers = [];

  // -- the wire: JSON, Buffers marked -------------------------------------------------------

  function revive(key, value) {
    if (value !== null && typeof value === "object" && typeof value[MARK] === "string") {
      return Buffer.from(value[MARK], "base64");
    }
    return value;
  }

  function parse(text) {
    return text.indexOf("\\u0000b") === -1 ? JSON.parse(text) : JSON.parse(text, revive);
  }

  var BUFFER_SEEN = Symbol.for("flowengine.buffer.seen");

  function replace(key, value) {
    var original = this[key];
    if (original instanceof Buffer) {
      var marked = {};
      marked[MARK] = Buffer.prototype.toString.call(original, "base64");
      return marked;
    }
    return value;
  }

  function stringify(value) {
    return Buffer[BUFFER_SEEN] ? JSON.stringify(value, replace) : JSON.stringify(value);
  }

  function emit(event) {
    emitRaw(stringify(event));
  }

  function ask(query) {
    var answer = requestRaw(stringify(query));
    return answer === "" ? undefined : parse(answer);
  }

  // -- errors, shaped as Node-RED shapes them ------------------------------------------------

  function isError(value) {
    return value !== null && typeof value === "object" && (value instanceof Error || has(value, "stack"));
  }

  function text(value) {
    try {
      return String(value);
    } catch (e) {
      return Object.prototype.toString.call(value);
    }
  }

  // V8's shape: "Error: text" then at most 10 frames, anonymous code as "at <file>:line:col".
  function stackOf(err) {
    var frames = String(err.stack || "").split("\n");
    var kept = [];
    for (var i = 0; i < frames.length && kept.length < STACK_FRAMES; i++) {
      if (frames[i].indexOf(" at fe_") !== -1 || frames[i].indexOf(" at <eval> ") !== -1) break;
      if (!frames[i].trim()) continue;
      var frame = frames[i].replace(/<input>/g, codeName());
      kept.push(frame.replace(/ at <anonymous> \((.*)\)$/, " at $1"));
    }
    return [text(err)].concat(kept).join("\n");
  }

  function codeName() {
    return "Function node:" + info.id + (info.name ? " [" + info.name + "]" : "");
  }

  // The engine's texts for the errors flows meet most, in V8's words (Node-RED reports V8's).
  var V8_TEXTS = [
    [/^cannot read property '(.*)' of (undefined|null)$/, "Cannot read properties of $2 (reading '$1')"],
    [/^cannot set property '(.*)' of (undefined|null)$/, "Cannot set properties of $2 (setting '$1')"],
    [/^'.*' is read-only$/, "Assignment to constant variable."],
    [/^invalid array length$/, "Invalid array length"],
    [/^cannot convert symbol to string$/, "Cannot convert a Symbol value to a string"],
    [/^(.* in JSON at position \d+) \(line \d+ column \d+\)$/, "$1"],
  ];

  function inV8Words(err) {
    if (!(err instanceof Error) || typeof err.message !== "string") return;
    for (var i = 0; i < V8_TEXTS.length; i++) {
      if (V8_TEXTS[i][0].test(err.message)) {
        err.message = err.message.replace(V8_TEXTS[i][0], V8_TEXTS[i][1]);
        return;
      }
    }
  }

  function errorRecord(err, stack) {
    if (typeof err !== "boolean") err = err || "";
    inV8Words(err);
    var record = { message: text(err) };
    if (err !== null && typeof err === "object") {
      if (has(err, "code")) record.code = err.code;
      if (isError(err)) record.stack = stack || stackOf(err);
      if (has(err, "cause")) record.cause = err.cause;
    }
    return record;
  }

  function describe(value) {
    if (typeof value === "string") return value;
    if (isError(value)) return text(value);
    try {
      var json = JSON.stringify(value);
      return json === undefined ? text(value) : json;
    } catch (e) {
      return text(value);
    }
  }

  function reportError(err, msg) {
    if (msg && typeof msg === "object") emit({ t: "error", error: errorRecord(err), msg: msg });
    else emit({ t: "log", level: "error", text: describe(err) });
  }

  function log(level) {
    return function (message) {
      emit({ t: "log", level: level, text: describe(message) });
    };
  }

  function limitError(kind) {
    if (kind === "memory") noteOutOfMemory();
    var err =
      kind === "memory"
        ? new RangeError("Function node memory limit exceeded (" + info.memoryMiB + " MiB)")
        : new Error("Script execution timed out after " + info.timeoutMs + "ms");
    err.code = kind === "memory" ? "ERR_FUNCTION_MEMORY_LIMIT" : "ERR_SCRIPT_EXECUTION_TIMEOUT";
    return { message: text(err), code: err.code, stack: text(err) + "\n    at " + codeName() };
  }

  function isOutOfMemory(err) {
    return err instanceof InternalError && err.message === "out of memory";
  }

  // Node-RED's function node: the message text of a ReferenceError in the body gains its place.
  function rejected(err, msg) {
    if (isOutOfMemory(err)) {
      emit({ t: "error", error: limitError("memory"), msg: msg });
    } else if (isError(err)) {
      msg.error = err;
      inV8Words(err);
      var stack = stackOf(err);
      var place = referencePlace(err);
      if (place) err.message = text(err) + place;
      emit({ t: "error", error: errorRecord(err, stack), msg: msg });
    } else if (typeof err === "string") {
      reportError(err, msg);
    } else {
      var json = JSON.stringify(err);
      if (json !== undefined) reportError(json, msg);
    }
  }

  function referencePlace(err) {
    if (text(err).indexOf("ReferenceError") !== 0) return "";
    var top = /^\s*at <anonymous> \(<input>:(\d+):(\d+)\)/.exec(String(err.stack || ""));
    return top ? " (line " + (Number(top[1]) - 1) + ", col " + top[2] + ")" : "";
  }

  // -- sending, as Node-RED's sendResults ----------------------------------------------------

  // ``msg``: the message being handled, for a send that fails (a message that JSON cannot hold).
  function sendResults(msgid, msgs, msg) {
    if (msgs === null || msgs === undefined) return;
    if (!Array.isArray(msgs)) msgs = [msgs];
    var count = 0;
    var ports = [];
    for (var m = 0; m < msgs.length; m++) {
      var port = msgs[m];
      if (!port) {
        ports.push(null);
        continue;
      }
      if (!Array.isArray(port)) port = msgs[m] = [port];
      var out = [];
      for (var n = 0; n < port.length; n++) {
        var one = port[n];
        if (one === null || one === undefined) continue;
        if (typeof one === "object" && !(one instanceof Buffer) && !Array.isArray(one)) {
          one._msgid = msgid;
          out.push(one);
          count++;
        } else {
          var type = typeof one === "object" ? (one instanceof Buffer ? "Buffer" : "Array") : typeof one;
          reportError("Function tried to send a message of type " + type);
        }
      }
      ports.push(out);
    }
    if (count > 0) emitSend(ports, msg);
  }

  // The event written by hand around each message's JSON: cheaper than stringifying the envelope.
  function emitSend(ports, msg) {
    var text;
    try {
      text = ports.map(portText).join(",");
    } catch (err) {
      reportError(err, msg);
      return;
    }
    emitRaw('{"t":"send","ports":[' + text + "]}");
  }

  function portText(list) {
    return list === null ? "null" : "[" + list.map(stringify).join(",") + "]";
  }

  // -- node, context, env --------------------------------------------------------------------

  function status(value) {
    var shown = value;
    if (value === undefined || value === null) shown = {};
    else if (typeof value !== "object") shown = { text: "" + value };
    else shown = JSON.parse(JSON.stringify(value, replace));
    if (has(shown, "text") && typeof shown.text !== "string" && shown.text !== null) shown.text = text(shown.text);
    emit({ t: "status", status: shown });
  }

  function on(event, handler) {
    if (event === "input") throw new Error("Cannot add listener to 'input' event within Function");
    if (event === "close" && typeof handler === "function") closeHandlers.push(handler);
  }

  function makeNode(send, done) {
    var node = {
      id: info.id,
      name: info.name,
      path: info.path,
      outputCount: info.outputCount,
      log: log("info"),
      warn: log("warn"),
      debug: log("debug"),
      trace: log("trace"),
      error: reportError,
      status: status,
      send: send,
    };
    if (done) {
      node.on = on;
      node.done = done;
    }
    return node;
  }

  global.__node__ = {
    forMessage: function (msg, done) {
      var msgid = msg._msgid;
      return makeNode(function (msgs) {
        sendResults(msgid, msgs, msg);
      }, done);
    },
  };

  function store(scope) {
    function one(key) {
      return ask({ t: "get", scope: scope, key: String(key) });
    }
    return {
      get: function (key, storeName, callback) {
        if (typeof storeName === "function") callback = storeName;
        var value = Array.isArray(key) ? key.map(one) : one(key);
        if (typeof callback !== "function") return value;
        callback.apply(null, [null].concat(Array.isArray(key) ? value : [value]));
      },
      set: function (key, value, storeName, callback) {
        if (typeof storeName === "function") callback = storeName;
        var keys = Array.isArray(key) ? key : [key];
        var values = Array.isArray(key) ? (Array.isArray(value) ? value : []) : [value];
        for (var i = 0; i < keys.length; i++) emit({ t: "set", scope: scope, key: String(keys[i]), value: values[i] });
        if (typeof callback === "function") callback(null);
      },
      keys: function (storeName, callback) {
        if (typeof storeName === "function") callback = storeName;
        var keys = ask({ t: "keys", scope: scope });
        if (typeof callback !== "function") return keys;
        callback(null, keys);
      },
    };
  }

  var context = store("node");
  Object.defineProperty(context, "flow", { value: store("flow") }); // not the same object, as in Node-RED
  Object.defineProperty(context, "global", { value: store("global") });
  global.context = context;
  global.flow = store("flow");
  global.global = store("global");
  global.env = {
    get: function (name) {
      return ask({ t: "env", name: String(name) });
    },
  };

  // -- timers, scheduled by the runtime's clock ----------------------------------------------

  function Timeout(id) {
    this.id = id;
  }
  Timeout.prototype.ref = Timeout.prototype.unref = Timeout.prototype.refresh = function () {
    return this;
  };
  Timeout.prototype.hasRef = function () {
    return true;
  };
  Timeout.prototype[Symbol.toPrimitive] = function () {
    return this.id;
  };

  function schedule(repeat, args) {
    var fn = args[0];
    if (typeof fn !== "function") {
      throw new TypeError('The "callback" argument must be of type function. Received ' + typeof fn);
    }
    var delay = Number(args[1]);
    if (!(delay >= 1 && delay <= 2147483647)) delay = 1;
    var id = nextTimer++;
    timers.set(id, { fn: fn, args: Array.prototype.slice.call(args, 2), repeat: repeat });
    emit({ t: "timer", id: id, ms: delay, repeat: repeat });
    return new Timeout(id);
  }

  function clear(timer) {
    var id = timer instanceof Timeout ? timer.id : Number(timer);
    if (timers.delete(id)) emit({ t: "clear", id: id });
  }

  global.setTimeout = function () {
    return schedule(false, arguments);
  };
  global.setTimeout[Symbol.for("nodejs.util.promisify.custom")] = function (after, value) {
    return new Promise(function (resolve) {
      global.setTimeout(resolve, after, value);
    });
  };
  global.setInterval = function () {
    return schedule(true, arguments);
  };
  global.clearTimeout = clear;
  global.clearInterval = clear;

  // -- RED.util and console ------------------------------------------------------------------

  function clone(value) {
    if (value === null || typeof value !== "object") return value;
    if (value instanceof Uint8Array) return Buffer.from(value);
    if (value instanceof Date) return new Date(value.getTime());
    if (Array.isArray(value)) return value.map(clone);
    var copy = {};
    for (var key in value) if (has(value, key)) copy[key] = clone(value[key]);
    return copy;
  }

  function pathParts(expression) {
    var parts = [];
    var re = /([^.[\]]+)|\[(\d+)\]|\[["']([^"']*)["']\]/g;
    var match;
    while ((match = re.exec(String(expression).replace(/^msg\./, "")))) {
      parts.push(match[1] !== undefined ? match[1] : match[2] !== undefined ? Number(match[2]) : match[3]);
    }
    return parts;
  }

  function getMessageProperty(msg, expression) {
    var value = msg;
    var parts = pathParts(expression);
    for (var i = 0; i < parts.length; i++) {
      if (value === null || value === undefined) return undefined;
      value = value[parts[i]];
    }
    return value;
  }

  function setMessageProperty(msg, expression, value, createMissing) {
    if (createMissing === undefined) createMissing = value !== undefined;
    var parts = pathParts(expression);
    var target = msg;
    for (var i = 0; i < parts.length - 1; i++) {
      if (target[parts[i]] === null || typeof target[parts[i]] !== "object") {
        if (!createMissing) return false;
        target[parts[i]] = typeof parts[i + 1] === "number" ? [] : {};
      }
      target = target[parts[i]];
    }
    if (value === undefined) delete target[parts[parts.length - 1]];
    else target[parts[parts.length - 1]] = value;
    return true;
  }

  function generateId() {
    var bytes = "";
    for (var i = 0; i < 8; i++) bytes += ("0" + Math.round(255 * Math.random()).toString(16)).slice(-2);
    return bytes;
  }

  global.RED = {
    util: {
      cloneMessage: clone,
      generateId: generateId,
      getMessageProperty: getMessageProperty,
      setMessageProperty: setMessageProperty,
    },
  };

  // Node's util, the parts that need no I/O.
  function format(first) {
    var args = Array.prototype.slice.call(arguments, 1);
    var out = typeof first === "string" ? first.replace(/%[sdifjoO%]/g, function (spec) {
      if (spec === "%%") return "%";
      if (!args.length) return spec;
      var value = args.shift();
      if (spec === "%d" || spec === "%i" || spec === "%f") {
        var number = Number(value);
        return String(spec === "%i" ? Math.trunc(number) : number);
      }
      return spec === "%s" && typeof value === "string" ? value : describe(value);
    }) : describe(first);
    return args.reduce(function (text, value) {
      return text + " " + describe(value);
    }, out);
  }

  var PROMISIFY = Symbol.for("nodejs.util.promisify.custom");

  function promisify(fn) {
    if (typeof fn[PROMISIFY] === "function") return fn[PROMISIFY];
    return function () {
      var args = Array.prototype.slice.call(arguments);
      var self = this;
      return new Promise(function (resolve, reject) {
        fn.apply(self, args.concat(function (err, value) {
          if (err) reject(err);
          else resolve(value);
        }));
      });
    };
  }
  promisify.custom = PROMISIFY;

  function deepEqual(a, b) {
    if (Object.is(a, b)) return true;
    if (a === null || b === null || typeof a !== "object" || typeof b !== "object") return false;
    if (Object.getPrototypeOf(a) !== Object.getPrototypeOf(b)) return false;
    if (a instanceof Date) return a.getTime() === b.getTime();
    var keys = Object.keys(a);
    if (keys.length !== Object.keys(b).length) return false;
    return keys.every(function (key) {
      return has(b, key) && deepEqual(a[key], b[key]);
    });
  }

  global.util = { format: format, inspect: describe, promisify: promisify, isDeepStrictEqual: deepEqual };
  global.promisify = promisify;

  function consoleAt(level) {
    return function () {
      emit({ t: "log", level: level, text: format.apply(null, arguments) });
    };
  }
  global.console = {
    log: consoleAt("info"),
    info: consoleAt("info"),
    warn: consoleAt("warn"),
    error: consoleAt("error"),
    debug: consoleAt("debug"),
    trace: consoleAt("trace"),
  };

  // -- compiling the node's code --------------------------------------------------------------

  // Each piece of code is wrapped as Node-RED wraps it, with the preamble on the first line so
  // that line N of the code is line N + 1 of what runs (Node-RED reports lines the same way).
  function compile(head, preamble, code) {
    var source = "(" + head + "{" + preamble + "\n" + code + "\n})";
    var fn = (0, eval)(source);
    if (typeof fn !== "function" || Function.prototype.toString.call(fn) !== source.slice(1, -1)) {
      throw new SyntaxError("Unexpected token '}': the code closes the function it runs in");
    }
    return fn;
  }

  function syntaxText(err) {
    var place = /<input>:(\d+):(\d+)/.exec(String(err.stack || ""));
    return text(err) + (place ? " (line " + (Number(place[1]) - 1) + ", col " + place[2] + ")" : "");
  }

  var BODY = ["async function(msg,__send__,__done__)", "var node=__node__.forMessage(msg,__done__);"];
  // Code that cannot start asynchronous work runs as a plain function: the same sends in the
  // same order, without a promise and a job per message.
  var ASYNC_CODE = /\b(await|async|Promise|then|queueMicrotask)\b/;
  var syncBody = false;
  var INIT = ["async function()", "var node=__node__.forStart();"];
  var CLOSE = ["function()", "var node=__node__.forClose();"];

  global.__node__.forStart = function () {
    return makeNode(function (msgs) {
      sendResults(generateId(), msgs);
    });
  };
  global.__node__.forClose = function () {
    return makeNode(function () {
      reportError("Cannot send from close function");
    });
  };

  // The syntax check of a deploy: an empty answer, or the error with its line in the code.
  global.__fe_check = function fe_check(kind, code) {
    try {
      var wrap = kind === "initialize" ? INIT : kind === "finalize" ? CLOSE : BODY;
      compile(wrap[0], wrap[1], code);
      return "";
    } catch (err) {
      return syntaxText(err);
    }
  };

  // -- entry points for the worker -----------------------------------------------------------

  function resolved() {
    state = "resolved";
    var queued = waiting;
    waiting = [];
    queued.forEach(fe_run);
  }

  global.__fe_start = function fe_start(specText) {
    var spec = JSON.parse(specText);
    info = spec.node;
    nextTimer = spec.firstTimer;
    var init = null;
    try {
      syncBody = !ASYNC_CODE.test(spec.func);
      body = compile(syncBody ? BODY[0].replace("async ", "") : BODY[0], BODY[1], spec.func);
      if (spec.initialize) init = compile(INIT[0], INIT[1], spec.initialize);
      if (spec.finalize) finalizer = compile(CLOSE[0], CLOSE[1], spec.finalize);
    } catch (err) {
      state = "error";
      reportError(syntaxText(err));
      return;
    }
    if (!init) return resolved();
    current = {};
    init().then(resolved, function (err) {
      waiting = [];
      state = "error";
      reportError(err);
    });
  };

  function fe_run(msg) {
    current = msg;
    var done = function (err) {
      if (err) reportError(err, msg);
    };
    if (syncBody) {
      var results;
      try {
        results = body(msg, null, done);
      } catch (err) {
        rejected(err, msg);
        return;
      }
      sendResults(msg._msgid, results, msg);
      return;
    }
    body(msg, null, done).then(
      function (results) {
        sendResults(msg._msgid, results, msg);
      },
      function (err) {
        rejected(err, msg);
      },
    );
  }

  global.__fe_message = function fe_message(msgText) {
    var msg = parse(msgText);
    if (state === "resolved") fe_run(msg);
    else if (state === "resolving") waiting.push(msg);
  };

  global.__fe_timer = function fe_timer(id) {
    var timer = timers.get(id);
    if (!timer) return;
    if (!timer.repeat) timers.delete(id);
    current = {};
    try {
      timer.fn.apply(null, timer.args);
    } catch (err) {
      if (isOutOfMemory(err)) emit({ t: "error", error: limitError("memory"), msg: {} });
      else reportError(err, {});
    }
  };

  global.__fe_close = function fe_close() {
    current = {};
    if (finalizer && state !== "error") {
      try {
        finalizer();
      } catch (err) {
        reportError(err);
      }
    }
    closeHandlers.forEach(function (handler) {
      try {
        handler();
      } catch (err) {
        reportError(err);
      }
    });
    timers.clear();
  };

  // A limit the worker enforced from outside the code: reported with the entry's message.
  global.__fe_limit = function (kind) {
    emit({ t: "error", error: limitError(kind), msg: current });
  };
})(globalThis);
