package dev.quiesce.agent.bootstrap.inbound;

import static dev.quiesce.agent.bootstrap.inbound.InboundCounters.IN_FLIGHT;
import static dev.quiesce.agent.bootstrap.inbound.InboundCounters.KINDS;
import static dev.quiesce.agent.bootstrap.inbound.PublicMethods.find;

import java.lang.reflect.InvocationHandler;
import java.lang.reflect.Method;
import java.lang.reflect.Proxy;
import java.util.concurrent.atomic.AtomicIntegerFieldUpdater;
import java.util.function.BiConsumer;
import java.util.function.Consumer;

/**
 * What ends a request that outlives its entry point: a CompletableFuture's completion (Dubbo 2.7+), a
 * Mono's doFinally (WebFlux), a servlet AsyncContext's onComplete (startAsync). Each runs on whatever
 * thread completes the request and never throws into it. {@link InboundCounters}' handOff entry points
 * attach them.
 */
final class InboundCallbacks {
  static final BiConsumer<Object, Throwable>[] DONE = doneCallbacks();

  static final ClassValue<Method> DO_FINALLY = new ClassValue<Method>() {
    @Override
    protected Method computeValue(Class<?> type) {
      return find(type, "doFinally", Consumer.class);
    }
  };

  static final ClassValue<Method[]> ASYNC_METHODS = new ClassValue<Method[]>() {
    @Override
    protected Method[] computeValue(Class<?> type) {
      return new Method[] {find(type, "isAsyncStarted"), find(type, "getAsyncContext"), find(type, "getDispatcherType")};
    }
  };

  /** AsyncContext.addListener(AsyncListener): its parameter type is the container's AsyncListener. */
  private static final ClassValue<Method> ADD_LISTENER = new ClassValue<Method>() {
    @Override
    protected Method computeValue(Class<?> type) {
      for (Method m : type.getMethods()) {
        if (m.getName().equals("addListener") && m.getParameterTypes().length == 1 && m.getParameterTypes()[0].isInterface()) {
          return find(type, "addListener", m.getParameterTypes()[0]);
        }
      }
      return null;
    }
  };

  private static final ClassValue<Method> EVENT_CONTEXT = new ClassValue<Method>() {
    @Override
    protected Method computeValue(Class<?> type) {
      return find(type, "getAsyncContext");
    }
  };

  private InboundCallbacks() {}

  /** A servlet request dispatched again to finish an async cycle (DispatcherType.ASYNC). */
  static boolean asyncDispatch(Object request) {
    try {
      if (request == null) {
        return false;
      }
      Method m = ASYNC_METHODS.get(request.getClass())[2];
      Object type = m == null ? null : m.invoke(request);
      return type instanceof Enum && "ASYNC".equals(((Enum<?>) type).name());
    } catch (Throwable t) {
      return false;
    }
  }

  /** Adds an AsyncListener proxy for {@code end} to an AsyncContext; false when it cannot. */
  static boolean listenTo(Object asyncContext, AsyncEnd end) throws Exception {
    if (asyncContext == null) {
      return false;
    }
    Method add = ADD_LISTENER.get(asyncContext.getClass());
    if (add == null) {
      return false;
    }
    if (end.proxy == null) {
      Class<?> listenerType = add.getParameterTypes()[0];
      end.proxy = Proxy.newProxyInstance(listenerType.getClassLoader(), new Class<?>[] {listenerType}, end);
    }
    add.invoke(asyncContext, end.proxy);
    return true;
  }

  @SuppressWarnings("unchecked")
  private static BiConsumer<Object, Throwable>[] doneCallbacks() {
    BiConsumer<Object, Throwable>[] d = new BiConsumer[KINDS];
    for (int i = 0; i < KINDS; i++) {
      d[i] = new Done(i);
    }
    return d;
  }

  /** Ends a handed-off request when its reply completes. */
  private static final class Done implements BiConsumer<Object, Throwable> {
    private final int kind;

    Done(int kind) {
      this.kind = kind;
    }

    @Override
    public void accept(Object value, Throwable error) {
      try {
        IN_FLIGHT[kind].decrement();
      } catch (Throwable ignored) {
        // the application comes first
      }
    }
  }

  /**
   * Ends a request handed off to a Mono, once: doFinally runs once per subscription, and a result
   * subscribed twice must not end the request twice.
   */
  static final class Finally implements Consumer<Object> {
    private static final AtomicIntegerFieldUpdater<Finally> DONE_ONCE =
        AtomicIntegerFieldUpdater.newUpdater(Finally.class, "done");
    private final int kind;
    private volatile int done;

    Finally(int kind) {
      this.kind = kind;
    }

    @Override
    public void accept(Object signal) {
      try {
        if (DONE_ONCE.compareAndSet(this, 0, 1)) {
          IN_FLIGHT[kind].decrement();
        }
      } catch (Throwable ignored) {
        // the application comes first
      }
    }
  }

  /**
   * The AsyncListener of one async request: ends it on onComplete (which also follows a timeout or
   * an error), once; a new async cycle (onStartAsync) clears the container's listeners, so it adds
   * itself again. Never throws into the container.
   */
  static final class AsyncEnd implements InvocationHandler {
    private static final AtomicIntegerFieldUpdater<AsyncEnd> DONE_ONCE =
        AtomicIntegerFieldUpdater.newUpdater(AsyncEnd.class, "done");
    private final int kind;
    private volatile int done;
    volatile Object proxy;

    AsyncEnd(int kind) {
      this.kind = kind;
    }

    @Override
    public Object invoke(Object self, Method method, Object[] args) {
      String name = method.getName();
      try {
        if (name.equals("onComplete")) {
          if (DONE_ONCE.compareAndSet(this, 0, 1)) {
            IN_FLIGHT[kind].decrement();
          }
        } else if (name.equals("onStartAsync") && args != null && args.length == 1 && args[0] != null) {
          Method context = EVENT_CONTEXT.get(args[0].getClass());
          listenTo(context == null ? null : context.invoke(args[0]), this);
        } else if (name.equals("equals") && args != null && args.length == 1) {
          return Boolean.valueOf(self == args[0]);
        } else if (name.equals("hashCode")) {
          return Integer.valueOf(System.identityHashCode(self));
        } else if (name.equals("toString")) {
          return "quiesce in-flight request listener";
        }
      } catch (Throwable ignored) {
        // the application comes first
      }
      return null;
    }
  }
}
