# kube-sim without a base image, laid out like jwtgate.Dockerfile by `cargo xtask images`.
FROM scratch
COPY rootfs/ /
EXPOSE 6443
ENTRYPOINT ["/kube-sim"]
CMD ["--listen", "0.0.0.0:6443", "--external-url", "https://kube-sim:6443"]
