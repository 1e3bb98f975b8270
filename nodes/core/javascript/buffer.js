// Node.js's Buffer for function nodes: the part of its API flows use on binary payloads.
// A Buffer is a Uint8Array with Node's encodings (utf8, hex, base64, latin1/binary, ascii),
// comparisons and the fixed-width integer and float readers and writers.
(function (global) {
  "use strict";

  var B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  var B64_INDEX = {};
  for (var i = 0; i < B64.length; i++) B64_INDEX[B64[i]] = i;
  B64_INDEX["-"] = 62;
  B64_INDEX["_"] = 63;

  function utf8Encode(text) {
    var out = [];
    for (var i = 0; i < text.length; i++) {
      var code = text.charCodeAt(i);
      if (code >= 0xd800 && code < 0xdc00 && i + 1 < text.length) {
        var low = text.charCodeAt(i + 1);
        if (low >= 0xdc00 && low < 0xe000) {
          code = 0x10000 + ((code - 0xd800) << 10) + (low - 0xdc00);
          i++;
        }
      }
      if (code >= 0xd800 && code < 0xe000) code = 0xfffd; // a lone surrogate
      if (code < 0x80) out.push(code);
      else if (code < 0x800) out.push(0xc0 | (code >> 6), 0x80 | (code & 63));
      else if (code < 0x10000) out.push(0xe0 | (code >> 12), 0x80 | ((code >> 6) & 63), 0x80 | (code & 63));
      else out.push(0xf0 | (code >> 18), 0x80 | ((code >> 12) & 63), 0x80 | ((code >> 6) & 63), 0x80 | (code & 63));
    }
    return out;
  }

  function utf8Decode(bytes, start, end) {
    var out = "";
    var i = start;
    while (i < end) {
      var b = bytes[i];
      var need = b < 0x80 ? 0 : b >= 0xc2 && b < 0xe0 ? 1 : b >= 0xe0 && b < 0xf0 ? 2 : b >= 0xf0 && b < 0xf5 ? 3 : -1;
      var code = need === 0 ? b : need === 1 ? b & 31 : need === 2 ? b & 15 : b & 7;
      var ok = need >= 0 && i + need < end;
      for (var k = 1; ok && k <= need; k++) {
        var c = bytes[i + k];
        if ((c & 0xc0) !== 0x80) ok = false;
        else code = (code << 6) | (c & 63);
      }
      if (ok && need === 2 && (code < 0x800 || (code >= 0xd800 && code < 0xe000))) ok = false;
      if (ok && need === 3 && (code < 0x10000 || code > 0x10ffff)) ok = false;
      if (!ok) {
        out += "\ufffd";
        i += 1;
        continue;
      }
      out += String.fromCodePoint(code);
      i += need + 1;
    }
    return out;
  }

  function base64Encode(bytes, start, end, url) {
    var out = "";
    for (var i = start; i < end; i += 3) {
      var n = (bytes[i] << 16) | ((i + 1 < end ? bytes[i + 1] : 0) << 8) | (i + 2 < end ? bytes[i + 2] : 0);
      out += B64[(n >> 18) & 63] + B64[(n >> 12) & 63];
      out += i + 1 < end ? B64[(n >> 6) & 63] : url ? "" : "=";
      out += i + 2 < end ? B64[n & 63] : url ? "" : "=";
    }
    return url ? out.replace(/\+/g, "-").replace(/\//g, "_") : out;
  }

  function base64Decode(text) {
    var out = [];
    var bits = 0;
    var value = 0;
    for (var i = 0; i < text.length; i++) {
      var digit = B64_INDEX[text[i]];
      if (digit === undefined) {
        if (text[i] === "=") break;
        continue; // Node skips whitespace and other characters
      }
      value = (value << 6) | digit;
      bits += 6;
      if (bits >= 8) {
        bits -= 8;
        out.push((value >> bits) & 255);
      }
    }
    return out;
  }

  function hexDecode(text) {
    var out = [];
    for (var i = 0; i + 1 < text.length; i += 2) {
      var byte = parseInt(text.substr(i, 2), 16);
      if (isNaN(byte)) break;
      out.push(byte);
    }
    return out;
  }

  function normalEncoding(encoding) {
    var name = String(encoding === undefined ? "utf8" : encoding).toLowerCase();
    if (name === "utf-8") return "utf8";
    if (name === "binary") return "latin1";
    if (name === "base64url" || name === "hex" || name === "base64" || name === "latin1" || name === "ascii") return name;
    if (name === "utf8") return name;
    throw new TypeError("Unknown encoding: " + encoding);
  }

  function encode(text, encoding) {
    switch (normalEncoding(encoding)) {
      case "hex":
        return hexDecode(text);
      case "base64":
      case "base64url":
        return base64Decode(text);
      case "latin1":
      case "ascii":
        var out = [];
        for (var i = 0; i < text.length; i++) out.push(text.charCodeAt(i) & 255);
        return out;
      default:
        return utf8Encode(text);
    }
  }

  // Set once a Buffer exists in this context: until then messages leave without the Buffer check.
  var SEEN = Symbol.for("flowengine.buffer.seen");

  class Buffer extends Uint8Array {
    constructor(...args) {
      super(...args);
      Buffer[SEEN] = true;
    }

    static from(value, encodingOrOffset, length) {
      if (typeof value === "string") return new Buffer(encode(value, encodingOrOffset));
      if (value instanceof ArrayBuffer) {
        var offset = encodingOrOffset === undefined ? 0 : encodingOrOffset;
        return new Buffer(value, offset, length === undefined ? value.byteLength - offset : length);
      }
      if (value && value.type === "Buffer" && Array.isArray(value.data)) return new Buffer(value.data);
      if (value && typeof value === "object" && "length" in value) return new Buffer(Array.prototype.slice.call(value));
      throw new TypeError("The first argument must be of type string or an instance of Buffer, ArrayBuffer, or Array or an Array-like Object.");
    }

    static alloc(size, fill, encoding) {
      var buffer = new Buffer(size);
      if (fill !== undefined && fill !== 0) buffer.fill(fill, 0, size, encoding);
      return buffer;
    }

    static allocUnsafe(size) {
      return new Buffer(size);
    }

    static isBuffer(value) {
      return value instanceof Buffer;
    }

    static isEncoding(encoding) {
      try {
        normalEncoding(encoding);
        return typeof encoding === "string";
      } catch (e) {
        return false;
      }
    }

    static byteLength(value, encoding) {
      if (typeof value !== "string") return value.byteLength;
      return encode(value, encoding).length;
    }

    static concat(list, totalLength) {
      var size = 0;
      for (var i = 0; i < list.length; i++) size += list[i].length;
      var out = Buffer.alloc(totalLength === undefined ? size : totalLength);
      var at = 0;
      for (var j = 0; j < list.length && at < out.length; j++) {
        var part = list[j].subarray(0, out.length - at);
        out.set(part, at);
        at += part.length;
      }
      return out;
    }

    static compare(a, b) {
      return a.compare(b);
    }

    toString(encoding, start, end) {
      start = start === undefined ? 0 : Math.max(0, start | 0);
      end = end === undefined ? this.length : Math.min(this.length, end | 0);
      if (end <= start) return "";
      switch (normalEncoding(encoding)) {
        case "hex":
          var hex = "";
          for (var i = start; i < end; i++) hex += (this[i] < 16 ? "0" : "") + this[i].toString(16);
          return hex;
        case "base64":
          return base64Encode(this, start, end, false);
        case "base64url":
          return base64Encode(this, start, end, true);
        case "latin1":
        case "ascii":
          var text = "";
          var mask = normalEncoding(encoding) === "ascii" ? 127 : 255;
          for (var j = start; j < end; j++) text += String.fromCharCode(this[j] & mask);
          return text;
        default:
          return utf8Decode(this, start, end);
      }
    }

    toJSON() {
      return { type: "Buffer", data: Array.prototype.slice.call(this) };
    }

    equals(other) {
      return this.compare(other) === 0;
    }

    compare(other) {
      var n = Math.min(this.length, other.length);
      for (var i = 0; i < n; i++) {
        if (this[i] !== other[i]) return this[i] < other[i] ? -1 : 1;
      }
      return this.length === other.length ? 0 : this.length < other.length ? -1 : 1;
    }

    slice(start, end) {
      return this.subarray(start, end); // Node's slice shares memory, like subarray
    }

    write(text, offset, length, encoding) {
      if (typeof offset === "string") {
        encoding = offset;
        offset = 0;
      } else if (typeof length === "string") {
        encoding = length;
        length = undefined;
      }
      offset = offset === undefined ? 0 : offset;
      var bytes = encode(text, encoding).slice(0, Math.min(this.length - offset, length === undefined ? Infinity : length));
      this.set(bytes, offset);
      return bytes.length;
    }

    fill(value, start, end, encoding) {
      if (typeof start === "string") {
        encoding = start;
        start = 0;
        end = this.length;
      }
      start = start === undefined ? 0 : start;
      end = end === undefined ? this.length : end;
      if (typeof value === "number") return Uint8Array.prototype.fill.call(this, value & 255, start, end);
      var bytes = typeof value === "string" ? encode(value, encoding) : Array.prototype.slice.call(value);
      if (bytes.length === 0) bytes = [0];
      for (var i = start, k = 0; i < end; i++, k = (k + 1) % bytes.length) this[i] = bytes[k];
      return this;
    }

    copy(target, targetStart, sourceStart, sourceEnd) {
      targetStart = targetStart || 0;
      sourceStart = sourceStart || 0;
      sourceEnd = sourceEnd === undefined ? this.length : sourceEnd;
      var part = this.subarray(sourceStart, Math.min(sourceEnd, sourceStart + target.length - targetStart));
      target.set(part, targetStart);
      return part.length;
    }

    indexOf(value, byteOffset, encoding) {
      if (typeof value === "number") return Uint8Array.prototype.indexOf.call(this, value & 255, byteOffset);
      var needle = typeof value === "string" ? encode(value, encoding) : value;
      var from = byteOffset === undefined ? 0 : byteOffset < 0 ? Math.max(0, this.length + byteOffset) : byteOffset;
      outer: for (var i = from; i <= this.length - needle.length; i++) {
        for (var k = 0; k < needle.length; k++) if (this[i + k] !== needle[k]) continue outer;
        return i;
      }
      return -1;
    }

    includes(value, byteOffset, encoding) {
      return this.indexOf(value, byteOffset, encoding) !== -1;
    }
  }

  function dataView(buffer) {
    return new DataView(buffer.buffer, buffer.byteOffset, buffer.byteLength);
  }

  function checkOffset(buffer, offset, size) {
    offset = offset === undefined ? 0 : offset;
    if (offset !== Math.floor(offset) || offset < 0 || offset + size > buffer.length) {
      var error = new RangeError('The value of "offset" is out of range. It must be >= 0 and <= ' + (buffer.length - size) + ". Received " + offset);
      error.code = "ERR_OUT_OF_RANGE";
      throw error;
    }
    return offset;
  }

  // [Node name, DataView getter, byte size, little endian]
  var ACCESSORS = [
    ["UInt8", "Uint8", 1, false], ["Int8", "Int8", 1, false],
    ["UInt16LE", "Uint16", 2, true], ["UInt16BE", "Uint16", 2, false],
    ["Int16LE", "Int16", 2, true], ["Int16BE", "Int16", 2, false],
    ["UInt32LE", "Uint32", 4, true], ["UInt32BE", "Uint32", 4, false],
    ["Int32LE", "Int32", 4, true], ["Int32BE", "Int32", 4, false],
    ["FloatLE", "Float32", 4, true], ["FloatBE", "Float32", 4, false],
    ["DoubleLE", "Float64", 8, true], ["DoubleBE", "Float64", 8, false],
    ["BigUInt64LE", "BigUint64", 8, true], ["BigUInt64BE", "BigUint64", 8, false],
    ["BigInt64LE", "BigInt64", 8, true], ["BigInt64BE", "BigInt64", 8, false],
  ];

  ACCESSORS.forEach(function (spec) {
    var name = spec[0], getter = "get" + spec[1], setter = "set" + spec[1], size = spec[2], little = spec[3];
    var read = function (offset) {
      return dataView(this)[getter](checkOffset(this, offset, size), little);
    };
    var write = function (value, offset) {
      offset = checkOffset(this, offset, size);
      dataView(this)[setter](offset, value, little);
      return offset + size;
    };
    Buffer.prototype["read" + name] = read;
    Buffer.prototype["write" + name] = write;
    if (name.indexOf("UInt") !== -1) {
      Buffer.prototype["read" + name.replace("UInt", "Uint")] = read;
      Buffer.prototype["write" + name.replace("UInt", "Uint")] = write;
    }
  });

  Object.defineProperty(Buffer.prototype, "parent", {
    get: function () {
      return this.buffer;
    },
  });

  global.Buffer = Buffer;
})(globalThis);
