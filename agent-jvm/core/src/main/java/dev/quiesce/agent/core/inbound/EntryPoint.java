package dev.quiesce.agent.core.inbound;

import java.util.Arrays;
import java.util.Collections;
import java.util.List;

/**
 * One inbound entry point: a method the agent wraps in InboundCounters.enter / exit. Named after
 * the oldest version it is known to fit (see STYLE.md); matched by class, method name and the
 * parameter part of the descriptor (the return type changed across Dubbo versions).
 */
final class EntryPoint {
  /** Kinds, as InboundCounters numbers them. */
  static final int SERVLET = 0;
  static final int DUBBO = 1;
  static final int WEBFLUX = 2;
  static final String[] KIND_NAMES = {"servlet", "dubbo", "webflux"};

  final String name;
  final int kind;
  /** Internal name, e.g. javax/servlet/http/HttpServlet. */
  final String className;
  final String method;
  /** The descriptor up to and including ')'. */
  final String params;
  /** Local slots passed to enter(kind, a, b); -1 passes null. */
  final int argA;
  final int argB;
  /** Dubbo 2.7+: after a call to reply(..) returning a CompletableFuture, hand the request off to it. */
  final boolean handOffReply;
  /** Spring WebFlux: the method returns a Mono; the request ends when it terminates, not on return. */
  final boolean handOffMono;
  /** Servlet: a request put in async mode (startAsync) ends when its AsyncContext completes. */
  final boolean handOffAsync;

  private EntryPoint(String name, int kind, String className, String method, String params, int argA, int argB,
      boolean handOffReply) {
    this(name, kind, className, method, params, argA, argB, handOffReply, false);
  }

  /** A Servlet entry point: the request is argA, async requests are handed off. */
  private static EntryPoint servlet(String name, String className, String params) {
    return new EntryPoint(name, SERVLET, className, "service", params, 1, -1, false, false, true);
  }

  private EntryPoint(String name, int kind, String className, String method, String params, int argA, int argB,
      boolean handOffReply, boolean handOffMono) {
    this(name, kind, className, method, params, argA, argB, handOffReply, handOffMono, false);
  }

  private EntryPoint(String name, int kind, String className, String method, String params, int argA, int argB,
      boolean handOffReply, boolean handOffMono, boolean handOffAsync) {
    this.name = name;
    this.kind = kind;
    this.className = className;
    this.method = method;
    this.params = params;
    this.argA = argA;
    this.argB = argB;
    this.handOffReply = handOffReply;
    this.handOffMono = handOffMono;
    this.handOffAsync = handOffAsync;
  }

  boolean matches(String methodName, String descriptor) {
    return method.equals(methodName) && descriptor.startsWith(params);
  }

  static final List<EntryPoint> ALL = Collections.unmodifiableList(Arrays.asList(
      // Servlet 2.x+ (javax): every HTTP request of Tomcat 9-, Jetty 9/10, Undertow 2.0, Spring MVC 5.
      servlet("servlet-javax", "javax/servlet/http/HttpServlet",
          "(Ljavax/servlet/ServletRequest;Ljavax/servlet/ServletResponse;)"),
      // Jakarta Servlet 5+ (Tomcat 10+, Jetty 11+, Spring MVC 6).
      servlet("servlet-jakarta", "jakarta/servlet/http/HttpServlet",
          "(Ljakarta/servlet/ServletRequest;Ljakarta/servlet/ServletResponse;)"),
      // Apache Dubbo 2.7.0+ and 3.x, dubbo protocol: a two-way request on a provider worker thread.
      // reply(..) returns a CompletableFuture; the response is sent when it completes.
      new EntryPoint("dubbo-provider", DUBBO, "org/apache/dubbo/remoting/exchange/support/header/HeaderExchangeHandler",
          "handleRequest",
          "(Lorg/apache/dubbo/remoting/exchange/ExchangeChannel;Lorg/apache/dubbo/remoting/exchange/Request;)", 1, 2,
          true),
      // Alibaba Dubbo 2.6.x: handleRequest returns the Response synchronously.
      new EntryPoint("dubbo-provider-2.6", DUBBO, "com/alibaba/dubbo/remoting/exchange/support/header/HeaderExchangeHandler",
          "handleRequest",
          "(Lcom/alibaba/dubbo/remoting/exchange/ExchangeChannel;Lcom/alibaba/dubbo/remoting/exchange/Request;)", 1, 2,
          false),
      // Spring WebFlux 5.0+ (Boot 2 and 3, on Reactor Netty, Undertow or a Servlet 3.1 container):
      // every HTTP request passes HttpWebHandlerAdapter.handle, which returns a Mono<Void> that
      // completes once the response is written.
      new EntryPoint("webflux", WEBFLUX, "org/springframework/web/server/adapter/HttpWebHandlerAdapter", "handle",
          "(Lorg/springframework/http/server/reactive/ServerHttpRequest;Lorg/springframework/http/server/reactive/ServerHttpResponse;)",
          1, -1, false, true)));
}
