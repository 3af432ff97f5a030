"""The benchmark peer: the machtigingen SOAP submit in Python with spyne.

Does what our IndienenMachtigingsaanvraag does, in the usual Python way:
mutual TLS (client certificate required), the SOAP envelope via spyne, the
payload validated against the same XSDs with lxml (libxml2, like ours), the BSN
11-proef, and a durable SQLite insert (WAL, synchronous=FULL) before
answering. Not part of the product; used by scripts/bench.sh only.

Served as a Python service would be in production: gunicorn, one process per
core (the GIL), threads for concurrent connections, keep-alive, TLS with a
required client certificate (scripts/peer/run.sh):

  PEER_SCHEMAS=DIR PEER_DB=FILE gunicorn --workers 2 --worker-class gthread ... server:application

or, without gunicorn, a threaded wsgiref server:

  python3 server.py PORT SCHEMAS_DIR DB SERVER_CERT SERVER_KEY CA
"""
import os
import socketserver
import sqlite3
import ssl
import sys
import threading
import uuid
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from lxml import etree
from spyne import AnyXml, Application, Fault, ServiceBase, rpc
from spyne.protocol.soap import Soap11
from spyne.server.wsgi import WsgiApplication

NS = "urn:machtigingen:machtigingen:v1"
if __name__ == "__main__":
    port, schemas, db_path, cert, key, ca = sys.argv[1:7]
else:
    schemas, db_path = os.environ["PEER_SCHEMAS"], os.environ["PEER_DB"]
SCHEMA = etree.XMLSchema(etree.parse(os.path.join(schemas, "machtigingen-v1.xsd")))
local = threading.local()
# Writers queue in the process, as ours do: with SQLite's own busy handler
# (sleeps with back-off) 32 threads fighting over the write lock held the
# peer to ~70 requests/s, which says more about the busy handler than Python.
write_lock = threading.Lock()


def db():
    if not hasattr(local, "conn"):
        c = sqlite3.connect(db_path, timeout=30, isolation_level=None)
        c.execute("PRAGMA journal_mode=WAL")
        c.execute("PRAGMA synchronous=FULL")
        local.conn = c
    return local.conn


init = sqlite3.connect(db_path)
init.execute("CREATE TABLE IF NOT EXISTS aanvragen (id TEXT PRIMARY KEY, referentie TEXT UNIQUE, bsn TEXT, document TEXT)")
init.commit()


def elfproef(bsn):
    w = [9, 8, 7, 6, 5, 4, 3, 2, -1]
    return len(bsn) == 9 and sum(int(d) * x for d, x in zip(bsn, w)) % 11 == 0


class Machtigingen(ServiceBase):
    @rpc(AnyXml, _body_style="bare", _returns=AnyXml,
         _in_message_name="IndienenMachtigingsaanvraag", _out_message_name="IndienenMachtigingsaanvraagResponse")
    def IndienenMachtigingsaanvraag(ctx, payload):
        op = ctx.in_body_doc
        if not SCHEMA.validate(op):
            raise Fault("Client", "XSD-001 " + "; ".join(str(e) for e in SCHEMA.error_log))
        m = op.find(f"{{{NS}}}Machtigingsaanvraag")
        bsn = m.findtext(f"{{{NS}}}Verzekerde/{{{NS}}}Bsn")
        if not elfproef(bsn):
            raise Fault("Client", "JVC-J01 BSN voldoet niet aan de 11-proef")
        ref = m.findtext(f"{{{NS}}}Referentie")
        rid = "MA" + uuid.uuid4().hex
        c = db()
        with write_lock:
            c.execute("BEGIN IMMEDIATE")
            c.execute("INSERT INTO aanvragen VALUES (?, ?, ?, ?)", (rid, ref, bsn, etree.tostring(m)))
            c.execute("COMMIT")
        resp = etree.Element(f"{{{NS}}}IndienenMachtigingsaanvraagResponse", nsmap={None: NS})
        for name, value in (("MachtigingsaanvraagId", rid), ("Status", "Ingediend"), ("Herhaald", "false")):
            etree.SubElement(resp, f"{{{NS}}}{name}").text = value
        return resp


app = Application([Machtigingen], tns=NS, in_protocol=Soap11(), out_protocol=Soap11())
application = WsgiApplication(app)


if __name__ == "__main__":
    class Quiet(WSGIRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *a):
            pass


    class Threaded(socketserver.ThreadingMixIn, WSGIServer):
        daemon_threads = True
        request_queue_size = 256


    server = make_server("127.0.0.1", int(port), application, server_class=Threaded, handler_class=Quiet)
    tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    tls.minimum_version = ssl.TLSVersion.TLSv1_2
    tls.load_cert_chain(cert, key)
    tls.load_verify_locations(ca)
    tls.verify_mode = ssl.CERT_REQUIRED
    server.socket = tls.wrap_socket(server.socket, server_side=True)
    print("peer listening", flush=True)
    server.serve_forever()
